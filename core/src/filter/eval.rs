//! Matching a compiled pattern against an input. Everything here borrows: the input,
//! the values a `$ref` points at, and the stack of array indexes for `$index`.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::parse::{Affixes, Node, ObjectNode, Op, Operand, Order};
use super::reference::{self, Frame, OutOfContext, RefPath};

/// Recursion allowed while matching. Patterns are at most `parse::MAX_DEPTH` deep, but
/// arrays nested in the input are descended into as well, and a `Value` built in code
/// is not bound by serde_json's parse limit. Past this, the match simply fails.
const MAX_RECURSION: u32 = 512;

/// What a `$ref` that finds nothing compares as: Hookdeck's JSONPath lookup returns
/// `null` for a path that does not exist.
static NULL: Value = Value::Null;

#[derive(Clone, Copy)]
struct Env<'v, 'f> {
    root: &'v Value,
    frames: Option<&'f Frame<'f>>,
    recursion: u32,
}

impl<'v, 'f> Env<'v, 'f> {
    /// The environment one level down, or `None` when the recursion budget is spent.
    fn descend(self) -> Option<Self> {
        (self.recursion < MAX_RECURSION).then_some(Env {
            recursion: self.recursion + 1,
            ..self
        })
    }

    /// The frame for element `index` of an array being entered; pass it to `inside`.
    fn frame(&self, index: usize) -> Frame<'f> {
        Frame {
            index,
            depth: reference::depth(self.frames) + 1,
            parent: self.frames,
        }
    }

    fn inside<'g>(self, frame: &'g Frame<'g>) -> Env<'v, 'g>
    where
        'f: 'g,
    {
        Env {
            root: self.root,
            frames: Some(frame),
            recursion: self.recursion,
        }
    }
}

pub(crate) fn matches(node: &Node, input: &Value) -> bool {
    let env = Env {
        root: input,
        frames: None,
        recursion: 0,
    };
    node_matches(node, input, env)
}

fn node_matches(node: &Node, value: &Value, env: Env<'_, '_>) -> bool {
    let Some(env) = env.descend() else {
        return false;
    };
    match node {
        Node::Literal(literal) => literal_matches(value, literal, env.recursion),
        Node::Contains(patterns) => {
            let Value::Array(items) = value else {
                return false;
            };
            patterns.iter().all(|pattern| {
                items.iter().enumerate().any(|(i, item)| {
                    let frame = env.frame(i);
                    node_matches(pattern, item, env.inside(&frame))
                })
            })
        }
        Node::Object(object) => object_matches(object, value, env),
    }
}

fn object_matches(object: &ObjectNode, value: &Value, env: Env<'_, '_>) -> bool {
    object.ops.iter().all(|op| op_holds(op, value, env))
        && object
            .fields
            .as_ref()
            .is_none_or(|fields| fields_match(fields, value, env))
}

/// Fields are matched on an object, or on any one element of an array, so that
/// `{"items": {"sku": "a", "qty": 1}}` needs one item with both.
fn fields_match(fields: &[(String, Node)], value: &Value, env: Env<'_, '_>) -> bool {
    let Some(env) = env.descend() else {
        return false;
    };
    match value {
        Value::Object(map) => fields
            .iter()
            .all(|(key, node)| match map.get(key.as_str()) {
                Some(field) => node_matches(node, field, env),
                None => matches_missing(node),
            }),
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            let frame = env.frame(i);
            fields_match(fields, item, env.inside(&frame))
        }),
        _ => false,
    }
}

/// Whether a pattern accepts a key that is absent. Only `$exist: false` does, alone or
/// as a branch of `$or`/`$and`; anything that needs a value (including `$not`, which
/// Hookdeck only applies to values that are there) does not.
fn matches_missing(node: &Node) -> bool {
    match node {
        Node::Object(ObjectNode { ops, fields: None }) => ops.iter().all(|op| match op {
            Op::Exist(exists) => !exists,
            Op::Or(nodes) => nodes.iter().any(matches_missing),
            Op::And(nodes) => nodes.iter().all(matches_missing),
            _ => false,
        }),
        _ => false,
    }
}

fn op_holds(op: &Op, value: &Value, env: Env<'_, '_>) -> bool {
    let Some(env) = env.descend() else {
        return false;
    };
    match op {
        Op::Eq(operand) => resolve(operand, env).is_some_and(|o| json_eq(value, o, env.recursion)),
        Op::Neq(operand) => {
            resolve(operand, env).is_some_and(|o| !json_eq(value, o, env.recursion))
        }
        Op::Order(order, operand) => resolve(operand, env).is_some_and(|o| {
            compare(value, o).is_some_and(|ordering| match order {
                Order::Gt => ordering == Ordering::Greater,
                Order::Gte => ordering != Ordering::Less,
                Order::Lt => ordering == Ordering::Less,
                Order::Lte => ordering != Ordering::Greater,
            })
        }),
        // An input of the wrong type satisfies neither `$in` nor `$nin`, as in Hookdeck.
        Op::In(operand) => resolve(operand, env)
            .and_then(|o| membership(value, o, env.recursion))
            .unwrap_or(false),
        Op::Nin(operand) => resolve(operand, env)
            .and_then(|o| membership(value, o, env.recursion))
            .is_some_and(|found| !found),
        Op::StartsWith(affixes) => affix_holds(affixes, value, env, |t, a| t.starts_with(a)),
        Op::EndsWith(affixes) => affix_holds(affixes, value, env, |t, a| t.ends_with(a)),
        Op::Exist(exists) => *exists,
        Op::Or(nodes) => nodes.iter().any(|node| node_matches(node, value, env)),
        Op::And(nodes) => nodes.iter().all(|node| node_matches(node, value, env)),
        Op::Not(node) => !node_matches(node, value, env),
        Op::Ref(path) => ref_matches(path, value, env),
        Op::Never => false,
    }
}

/// The value of an operand; `None` when it cannot be had (a malformed `$ref`, or an
/// `$index` outside any array), in which case the operator does not hold.
fn resolve<'o>(operand: &'o Operand, env: Env<'o, '_>) -> Option<&'o Value> {
    match operand {
        Operand::Value(value) => Some(value),
        Operand::Ref(path) => match path.resolve(env.root, env.frames) {
            Ok(found) => Some(found.unwrap_or(&NULL)),
            Err(OutOfContext) => None,
        },
        Operand::Never => None,
    }
}

fn ref_matches(path: &RefPath, value: &Value, env: Env<'_, '_>) -> bool {
    // `{"tags": {"$ref": "other[$index]"}}`: the `$index` is that of the tag being
    // matched, so step into the array before resolving.
    if path.slots() > reference::depth(env.frames) {
        let Value::Array(items) = value else {
            return false;
        };
        return items.iter().enumerate().any(|(i, item)| {
            let frame = env.frame(i);
            env.inside(&frame)
                .descend()
                .is_some_and(|inner| ref_matches(path, item, inner))
        });
    }
    match path.resolve(env.root, env.frames) {
        Ok(found) => value_matches(value, found.unwrap_or(&NULL), env.recursion),
        Err(OutOfContext) => false,
    }
}

/// Matches against a referenced part of the input used as a pattern. It is data, so
/// `$`-keys in it are plain keys, not operators: the input cannot inject operators.
fn value_matches(value: &Value, pattern: &Value, recursion: u32) -> bool {
    if recursion >= MAX_RECURSION {
        return false;
    }
    let recursion = recursion + 1;
    match pattern {
        Value::Array(patterns) => match value {
            Value::Array(items) => patterns
                .iter()
                .all(|p| items.iter().any(|item| value_matches(item, p, recursion))),
            _ => false,
        },
        Value::Object(fields) => match value {
            Value::Object(map) => fields.iter().all(|(key, p)| {
                map.get(key.as_str())
                    .is_some_and(|field| value_matches(field, p, recursion))
            }),
            Value::Array(items) => items
                .iter()
                .any(|item| value_matches(item, pattern, recursion)),
            _ => false,
        },
        primitive => literal_matches(value, primitive, recursion),
    }
}

/// A primitive pattern: equal to the value, or to an element of an array value (of an
/// array nested in it, too).
fn literal_matches(value: &Value, literal: &Value, recursion: u32) -> bool {
    if recursion >= MAX_RECURSION {
        return false;
    }
    match value {
        Value::Array(items) => items
            .iter()
            .any(|item| literal_matches(item, literal, recursion + 1)),
        Value::Object(_) => false,
        primitive => json_eq(primitive, literal, recursion),
    }
}

/// Deep equality with numbers compared by value (`1` equals `1.0`) and no coercion
/// between types; object key order does not matter.
fn json_eq(a: &Value, b: &Value, recursion: u32) -> bool {
    if recursion >= MAX_RECURSION {
        return false;
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => number_cmp(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y, recursion + 1))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(key, x)| {
                    y.get(key.as_str())
                        .is_some_and(|y| json_eq(x, y, recursion + 1))
                })
        }
        _ => false,
    }
}

/// Order between two numbers or two strings; anything else is unordered.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_cmp(x, y),
        // JavaScript orders strings by UTF-16 code unit, which differs from Rust's
        // code point order for characters beyond the Basic Multilingual Plane.
        (Value::String(x), Value::String(y)) => Some(x.encode_utf16().cmp(y.encode_utf16())),
        _ => None,
    }
}

fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    // Integers compare exactly; f64 would confuse neighbours above 2^53.
    let exact = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (exact(a), exact(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// `$in`: with a list, the value is one of its items; with a string, the value is a
/// string containing it; with anything else, the value is an array holding it.
/// `None` when the types make the question meaningless.
fn membership(value: &Value, operand: &Value, recursion: u32) -> Option<bool> {
    match (operand, value) {
        (Value::Array(_), Value::Array(_) | Value::Object(_)) => None,
        (Value::Array(list), _) => Some(list.iter().any(|item| json_eq(value, item, recursion))),
        (Value::String(needle), Value::String(haystack)) => {
            Some(haystack.contains(needle.as_str()))
        }
        (_, Value::Array(items)) => {
            Some(items.iter().any(|item| json_eq(item, operand, recursion)))
        }
        _ => None,
    }
}

fn affix_holds(
    affixes: &Affixes,
    value: &Value,
    env: Env<'_, '_>,
    test: fn(&str, &str) -> bool,
) -> bool {
    let Value::String(text) = value else {
        return false;
    };
    match affixes {
        Affixes::Strings(list) => list.iter().any(|affix| test(text, affix)),
        Affixes::Ref(path) => match path.resolve(env.root, env.frames) {
            Ok(Some(Value::String(affix))) => test(text, affix),
            Ok(Some(Value::Array(list))) => list
                .iter()
                .any(|item| item.as_str().is_some_and(|affix| test(text, affix))),
            _ => false,
        },
        Affixes::Never => false,
    }
}
