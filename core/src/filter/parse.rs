//! Validation of a pattern and its compilation into the tree the matcher walks.

use serde_json::{Map, Value};

use super::reference::RefPath;
use super::FilterError;

/// How the path of an error at the pattern itself is written.
pub(crate) const TOP_LEVEL: &str = "the top level";

/// Deeper patterns are refused so that neither compiling nor matching can exhaust the
/// stack; serde_json refuses deeper JSON text anyway.
pub(crate) const MAX_DEPTH: usize = 128;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A string, number, boolean or null: equal to it, or an array containing it.
    Literal(Value),
    /// An array pattern: an array containing a match for every element.
    Contains(Vec<Node>),
    /// An object pattern: its operators and its fields must all hold.
    Object(ObjectNode),
}

#[derive(Debug, Clone)]
pub(crate) struct ObjectNode {
    /// Constraints on the value as a whole.
    pub(crate) ops: Vec<Op>,
    /// `None` when the object held operators only. `Some` (possibly empty, for `{}`)
    /// requires an object, or an array holding one, whose fields all match.
    pub(crate) fields: Option<Vec<(String, Node)>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Eq(Operand),
    Neq(Operand),
    Order(Order, Operand),
    In(Operand),
    Nin(Operand),
    StartsWith(Affixes),
    EndsWith(Affixes),
    Exist(bool),
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    /// The value must match the referenced part of the input.
    Ref(RefPath),
    /// A malformed operand that Hookdeck tolerates: it never holds.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Gt,
    Gte,
    Lt,
    Lte,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Value(Value),
    Ref(RefPath),
    /// `{"$ref": <not a string>}`: Hookdeck accepts it and the comparison never holds.
    Never,
}

#[derive(Debug, Clone)]
pub(crate) enum Affixes {
    /// One string, or a list of which any may match.
    Strings(Vec<String>),
    Ref(RefPath),
    Never,
}

/// Where in the pattern the parser is, as a list on the call stack; only rendered
/// when an error is reported.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    step: Step<'a>,
    depth: usize,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Top,
    Key(&'a str),
    Index(usize),
}

impl<'a> At<'a> {
    fn top() -> At<'static> {
        At {
            parent: None,
            step: Step::Top,
            depth: 0,
        }
    }

    fn key<'b>(&'b self, key: &'b str) -> At<'b> {
        At {
            parent: Some(self),
            step: Step::Key(key),
            depth: self.depth + 1,
        }
    }

    fn index(&'a self, index: usize) -> At<'a> {
        At {
            parent: Some(self),
            step: Step::Index(index),
            depth: self.depth + 1,
        }
    }

    fn render(&self) -> String {
        let mut steps = Vec::new();
        let mut at = Some(self);
        while let Some(current) = at {
            steps.push(current.step);
            at = current.parent;
        }
        let mut out = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Top => {}
                Step::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Step::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        if out.is_empty() {
            out.push_str(TOP_LEVEL);
        }
        out
    }

    fn invalid(&self, expected: &'static str) -> FilterError {
        FilterError::InvalidOperand {
            path: self.render(),
            expected,
        }
    }
}

pub(crate) fn compile(pattern: &Value) -> Result<Node, FilterError> {
    node(pattern, &At::top())
}

fn node(pattern: &Value, at: &At<'_>) -> Result<Node, FilterError> {
    if at.depth > MAX_DEPTH {
        return Err(FilterError::TooDeep {
            path: at.render(),
            max: MAX_DEPTH,
        });
    }
    match pattern {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| node(item, &at.index(i)))
            .collect::<Result<_, _>>()
            .map(Node::Contains),
        Value::Object(map) => object(map, at).map(Node::Object),
        primitive => Ok(Node::Literal(primitive.clone())),
    }
}

fn object(map: &Map<String, Value>, at: &At<'_>) -> Result<ObjectNode, FilterError> {
    let mut ops = Vec::new();
    let mut fields = Vec::new();
    for (key, value) in map {
        let at = at.key(key);
        if key.starts_with('$') {
            ops.push(operator(key, value, &at)?);
        } else {
            fields.push((key.clone(), node(value, &at)?));
        }
    }
    // `{}` still demands an object: Hookdeck does not match it against a primitive.
    let fields = (!fields.is_empty() || ops.is_empty()).then_some(fields);
    Ok(ObjectNode { ops, fields })
}

fn operator(key: &str, value: &Value, at: &At<'_>) -> Result<Op, FilterError> {
    Ok(match key {
        "$eq" => Op::Eq(any_operand(value, at)?),
        "$neq" => Op::Neq(any_operand(value, at)?),
        "$gt" => order(Order::Gt, value, at)?,
        "$gte" => order(Order::Gte, value, at)?,
        "$lt" => order(Order::Lt, value, at)?,
        "$lte" => order(Order::Lte, value, at)?,
        "$in" => Op::In(membership_operand(value, at)?),
        "$nin" => Op::Nin(membership_operand(value, at)?),
        "$startsWith" => Op::StartsWith(affixes(value, at)?),
        "$endsWith" => Op::EndsWith(affixes(value, at)?),
        "$exist" => match value {
            Value::Bool(b) => Op::Exist(*b),
            _ => return Err(at.invalid("expected true or false")),
        },
        "$or" => Op::Or(patterns(value, at)?),
        "$and" => Op::And(patterns(value, at)?),
        "$not" => Op::Not(Box::new(node(value, at)?)),
        "$ref" => match value {
            Value::String(text) => Op::Ref(ref_path(text, at)?),
            // Hookdeck accepts this and never matches it (conformance case 90).
            Value::Object(_) => Op::Never,
            _ => return Err(at.invalid("expected a path string such as `a.b[0]`")),
        },
        _ => {
            return Err(FilterError::UnknownOperator {
                path: at.render(),
                operator: key.to_owned(),
            })
        }
    })
}

fn ref_path(text: &str, at: &At<'_>) -> Result<RefPath, FilterError> {
    RefPath::parse(text).map_err(|reason| FilterError::InvalidReference {
        path: at.render(),
        reference: text.to_owned(),
        reason,
    })
}

/// `{"$ref": ...}` used as an operand; `None` when `value` is not of that form.
fn ref_operand(value: &Value, at: &At<'_>) -> Result<Option<Operand>, FilterError> {
    let Value::Object(map) = value else {
        return Ok(None);
    };
    let Some(target) = map.get("$ref") else {
        return Ok(None);
    };
    let at = at.key("$ref");
    if map.len() > 1 {
        return Err(at.invalid("a {\"$ref\": ...} operand takes no other keys"));
    }
    match target {
        Value::String(text) => Ok(Some(Operand::Ref(ref_path(text, &at)?))),
        Value::Object(_) => Ok(Some(Operand::Never)),
        _ => Err(at.invalid("expected a path string such as `a.b[0]`")),
    }
}

fn any_operand(value: &Value, at: &At<'_>) -> Result<Operand, FilterError> {
    Ok(ref_operand(value, at)?.unwrap_or_else(|| Operand::Value(value.clone())))
}

fn order(order: Order, value: &Value, at: &At<'_>) -> Result<Op, FilterError> {
    if let Some(operand) = ref_operand(value, at)? {
        return Ok(Op::Order(order, operand));
    }
    match value {
        Value::Number(_) | Value::String(_) => Ok(Op::Order(order, Operand::Value(value.clone()))),
        // Hookdeck accepts a list here and never matches it (conformance case 98).
        Value::Array(_) => Ok(Op::Never),
        _ => Err(at.invalid("expected a number or a string")),
    }
}

fn membership_operand(value: &Value, at: &At<'_>) -> Result<Operand, FilterError> {
    if let Some(operand) = ref_operand(value, at)? {
        return Ok(operand);
    }
    match value {
        Value::Object(_) => Err(at.invalid("expected a string or a list of values")),
        _ => Ok(Operand::Value(value.clone())),
    }
}

fn affixes(value: &Value, at: &At<'_>) -> Result<Affixes, FilterError> {
    if let Some(operand) = ref_operand(value, at)? {
        return Ok(match operand {
            Operand::Ref(path) => Affixes::Ref(path),
            _ => Affixes::Never,
        });
    }
    match value {
        Value::String(s) => Ok(Affixes::Strings(vec![s.clone()])),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(at.index(i).invalid("expected a string")),
            })
            .collect::<Result<_, _>>()
            .map(Affixes::Strings),
        _ => Err(at.invalid("expected a string or a list of strings")),
    }
}

fn patterns(value: &Value, at: &At<'_>) -> Result<Vec<Node>, FilterError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| node(item, &at.index(i)))
            .collect(),
        _ => Err(at.invalid("expected a list of patterns")),
    }
}
