//! `$ref` paths (`a.b`, `a[1]`, `a[$index].b`), parsed once and resolved against the
//! input without allocating.

use serde_json::Value;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// `.name` or `['name']`. The numeric reading is kept because `items.0` reaches
    /// into an array in the JSONPath library Hookdeck uses, and parsing it per match
    /// would cost on every request.
    Key { name: String, index: Option<usize> },
    /// `[3]`.
    Index(usize),
    /// The n-th `$index` in the path: the index of the element being matched in the
    /// n-th enclosing array, outermost first.
    Current(usize),
}

/// A parsed `$ref` path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefPath {
    steps: Vec<Step>,
    slots: usize,
}

/// The indexes of the array elements currently being matched, innermost first. Lives
/// on the call stack of the matcher, so entering an array costs nothing on the heap.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'f> {
    pub(crate) index: usize,
    /// How many frames there are up to and including this one.
    pub(crate) depth: usize,
    pub(crate) parent: Option<&'f Frame<'f>>,
}

pub(crate) fn depth(frames: Option<&Frame<'_>>) -> usize {
    frames.map_or(0, |f| f.depth)
}

/// The index of the `slot`-th enclosing array, counting from the outermost.
fn slot_index(frames: Option<&Frame<'_>>, slot: usize) -> Option<usize> {
    let mut frame = frames?;
    if slot >= frame.depth {
        return None;
    }
    while frame.depth > slot + 1 {
        frame = frame.parent?;
    }
    Some(frame.index)
}

/// Why a reference could not be resolved (as opposed to resolving to nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutOfContext;

impl RefPath {
    /// How many `$index` steps the path has, i.e. how many enclosing arrays it needs.
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// Follows the path from `root`. `Ok(None)` when some step finds nothing;
    /// `Err(OutOfContext)` when the path uses more `$index` than there are enclosing
    /// arrays, which Hookdeck treats as an error of the whole match rather than a
    /// missing value.
    pub(crate) fn resolve<'v>(
        &self,
        root: &'v Value,
        frames: Option<&Frame<'_>>,
    ) -> Result<Option<&'v Value>, OutOfContext> {
        if self.slots > depth(frames) {
            return Err(OutOfContext);
        }
        let mut current = root;
        for step in &self.steps {
            let next = match step {
                Step::Key { name, index } => match current {
                    Value::Object(map) => map.get(name.as_str()),
                    Value::Array(items) => index.and_then(|i| items.get(i)),
                    _ => None,
                },
                Step::Index(i) => current.as_array().and_then(|items| items.get(*i)),
                Step::Current(slot) => {
                    let i = slot_index(frames, *slot).ok_or(OutOfContext)?;
                    current.as_array().and_then(|items| items.get(i))
                }
            };
            match next {
                Some(value) => current = value,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    /// Parses the JSONPath subset Hookdeck documents: an optional leading `$`, then
    /// names separated by `.`, and bracketed `[n]`, `[$index]` or `['name']`.
    pub(crate) fn parse(text: &str) -> Result<RefPath, &'static str> {
        if text.trim().is_empty() {
            return Err("the path is empty");
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        // A lone `$` (or `$.`/`$[`) is JSONPath's root; `$index` is not.
        if bytes[0] == b'$' && matches!(bytes.get(1), None | Some(b'.') | Some(b'[')) {
            pos = 1;
        }
        let mut steps = Vec::new();
        let mut slots = 0;
        let mut first = true;
        while pos < bytes.len() {
            match bytes[pos] {
                b'[' => {
                    let (step, next) = parse_bracket(text, pos, &mut slots)?;
                    steps.push(step);
                    pos = next;
                }
                b'.' => {
                    let (step, next) = parse_name(text, pos + 1, &mut slots)?;
                    steps.push(step);
                    pos = next;
                }
                _ if first => {
                    let (step, next) = parse_name(text, pos, &mut slots)?;
                    steps.push(step);
                    pos = next;
                }
                _ => return Err("expected `.` or `[` after `]`"),
            }
            first = false;
        }
        Ok(RefPath { steps, slots })
    }
}

/// A dotted name starting at `start`, up to the next `.` or `[`.
fn parse_name(text: &str, start: usize, slots: &mut usize) -> Result<(Step, usize), &'static str> {
    let rest = &text[start..];
    let len = rest.find(['.', '[']).unwrap_or(rest.len());
    let name = &rest[..len];
    if name.is_empty() {
        return Err("a name is missing between separators");
    }
    if name.contains(']') {
        return Err("unbalanced `]`");
    }
    if name == "*" {
        return Err("wildcards are not supported");
    }
    let step = if name == "$index" {
        current_step(slots)
    } else {
        key_step(name.to_owned())
    };
    Ok((step, start + len))
}

/// A bracketed step starting at the `[` at `start`.
fn parse_bracket(
    text: &str,
    start: usize,
    slots: &mut usize,
) -> Result<(Step, usize), &'static str> {
    let inner_start = start + 1;
    let rest = &text[inner_start..];
    let trimmed = rest.trim_start();
    if let Some(quote) = trimmed.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let offset = inner_start + (rest.len() - trimmed.len()) + 1;
        let (name, after_quote) = parse_quoted(text, offset, quote)?;
        let tail = &text[after_quote..];
        let close = tail.find(']').ok_or("unclosed `[`")?;
        if !tail[..close].trim().is_empty() {
            return Err("unexpected text after a quoted name");
        }
        return Ok((key_step(name), after_quote + close + 1));
    }
    let close = rest.find(']').ok_or("unclosed `[`")?;
    let content = rest[..close].trim();
    let step = if content == "$index" {
        current_step(slots)
    } else if content == "*" {
        return Err("wildcards are not supported");
    } else if !content.is_empty() && content.bytes().all(|b| b.is_ascii_digit()) {
        Step::Index(content.parse().map_err(|_| "the index is too large")?)
    } else {
        return Err("a bracket must hold a non-negative index, `$index` or a quoted name");
    };
    Ok((step, inner_start + close + 1))
}

/// A quoted name whose opening quote is just before `start`; backslash escapes the
/// next character. Returns the name and the position after the closing quote.
fn parse_quoted(text: &str, start: usize, quote: char) -> Result<(String, usize), &'static str> {
    let mut name = String::new();
    let mut escaped = false;
    for (offset, c) in text[start..].char_indices() {
        if escaped {
            name.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Ok((name, start + offset + c.len_utf8()));
        } else {
            name.push(c);
        }
    }
    Err("unclosed quote")
}

fn key_step(name: String) -> Step {
    let index = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    };
    Step::Key { name, index }
}

fn current_step(slots: &mut usize) -> Step {
    let step = Step::Current(*slots);
    *slots += 1;
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> Step {
        key_step(name.to_owned())
    }

    #[test]
    fn parses_the_documented_forms() {
        let cases = [
            ("type", vec![key("type")]),
            ("a.b", vec![key("a"), key("b")]),
            ("types[1]", vec![key("types"), Step::Index(1)]),
            (
                "test[$index].a[$index].c",
                vec![
                    key("test"),
                    Step::Current(0),
                    key("a"),
                    Step::Current(1),
                    key("c"),
                ],
            ),
            ("[$index].b", vec![Step::Current(0), key("b")]),
            ("$.a['b.c']", vec![key("a"), key("b.c")]),
            ("$", vec![]),
            ("items.0", vec![key("items"), key("0")]),
        ];
        for (text, steps) in cases {
            let path = RefPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(path.steps, steps, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for text in [
            "", " ", "a..b", "a.", "a[", "a[x]", "a[-1]", "a[*]", "a.*", "a]b", "a['b",
        ] {
            assert!(RefPath::parse(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn resolves_with_enclosing_indexes() {
        let root = json!({"t": [{"a": [10, 11]}, {"a": [20, 21]}]});
        let path = RefPath::parse("t[$index].a[$index]").unwrap();
        let outer = Frame {
            index: 1,
            depth: 1,
            parent: None,
        };
        let inner = Frame {
            index: 0,
            depth: 2,
            parent: Some(&outer),
        };
        assert_eq!(path.resolve(&root, Some(&inner)), Ok(Some(&json!(20))));
        assert_eq!(path.resolve(&root, Some(&outer)), Err(OutOfContext));
        assert_eq!(
            RefPath::parse("t.0.a.1").unwrap().resolve(&root, None),
            Ok(Some(&json!(11)))
        );
        assert_eq!(
            RefPath::parse("t[5]").unwrap().resolve(&root, None),
            Ok(None)
        );
    }
}
