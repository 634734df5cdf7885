//! The connection filter language: Hookdeck's JSON pattern syntax (as defined by the
//! open-source `simple-json-match` library), validated once and matched many times.
//!
//! A pattern is compiled by [`Filter::parse`] into a small tree, so that
//! [`Filter::matches`] only walks borrowed data: no allocation, no path parsing, no
//! cloning of the input. See `shared/conformance/FILTERS.md` for the language and
//! `tests/data/filter-cases.json` for the cases it must agree with Hookdeck on.
//!
//! Where `simple-json-match` behaves by accident rather than by design (operators read
//! as field names depending on where they appear, key-order-sensitive deep equality,
//! loose `==` coercion), this module follows the documented rules instead; where the
//! conformance cases pin down Hookdeck's tolerance of a malformed operand, it keeps
//! that tolerance so migrated filters keep parsing.

mod eval;
mod parse;
mod reference;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::Value;

use parse::Node;

/// A validated filter pattern, ready to match.
#[derive(Clone)]
pub struct Filter {
    pattern: Value,
    root: Node,
}

impl Filter {
    /// Validates a pattern; unknown `$operators`, wrong operand types (e.g. `$in` with an
    /// object, `$or` not a list, `$gt` with an object, `$exist` not a bool, a malformed
    /// `$ref` path), are rejected with an error whose message names the JSON path of the
    /// offending part, e.g. `invalid filter at items.$gt: expected a number or a string`.
    ///
    /// Two malformed forms are accepted because Hookdeck accepts them and the conformance
    /// cases depend on it: a `$ref` whose value is an object, and an array given to
    /// `$gt`/`$gte`/`$lt`/`$lte`. Both simply never hold (so `$not` around them holds).
    pub fn parse(pattern: &Value) -> Result<Filter, FilterError> {
        let root = parse::compile(pattern)?;
        Ok(Filter {
            pattern: pattern.clone(),
            root,
        })
    }

    /// Whether `input` matches. Never panics.
    pub fn matches(&self, input: &Value) -> bool {
        eval::matches(&self.root, input)
    }

    /// The pattern as given (for serialising back to API clients).
    pub fn pattern(&self) -> &Value {
        &self.pattern
    }
}

impl fmt::Debug for Filter {
    // The compiled tree is an implementation detail and far noisier than the pattern.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

impl serde::Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.pattern.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Filter {
    // Deserialising validates, so a config or API body holding a `Filter` can never
    // carry a pattern that `parse` would refuse.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = Value::deserialize(deserializer)?;
        Filter::parse(&pattern).map_err(serde::de::Error::custom)
    }
}

/// Convenience: parse + match in one call.
pub fn matches(pattern: &Value, input: &Value) -> Result<bool, FilterError> {
    Ok(Filter::parse(pattern)?.matches(input))
}

/// Why a pattern was refused. `path` is where in the pattern the problem is, in the
/// form `items.$gt` or `$or[1].type` (`the top level` for the pattern itself).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FilterError {
    #[error(
        "invalid filter at {path}: unknown operator `{operator}`; the operators are \
         $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $startsWith, $endsWith, $exist, \
         $or, $and, $not and $ref"
    )]
    UnknownOperator { path: String, operator: String },

    #[error("invalid filter at {path}: {expected}")]
    InvalidOperand {
        path: String,
        expected: &'static str,
    },

    #[error(
        "invalid filter at {path}: `{reference}` is not a usable $ref path ({reason}); \
         write it like `a.b`, `a[1]` or `a[$index].b`"
    )]
    InvalidReference {
        path: String,
        reference: String,
        reason: &'static str,
    },

    #[error(
        "invalid filter at {path}: the pattern is nested more than {max} levels deep; \
         flatten it"
    )]
    TooDeep { path: String, max: usize },
}

impl FilterError {
    /// Where in the pattern the problem is.
    pub fn path(&self) -> &str {
        match self {
            FilterError::UnknownOperator { path, .. }
            | FilterError::InvalidOperand { path, .. }
            | FilterError::InvalidReference { path, .. }
            | FilterError::TooDeep { path, .. } => path,
        }
    }

    /// The same error with its path placed under `part`, for callers that validate the
    /// body, headers, query and path patterns separately: `items.$gt` within `body`
    /// becomes `body.items.$gt`.
    pub fn within(mut self, part: &str) -> Self {
        let path = match &mut self {
            FilterError::UnknownOperator { path, .. }
            | FilterError::InvalidOperand { path, .. }
            | FilterError::InvalidReference { path, .. }
            | FilterError::TooDeep { path, .. } => path,
        };
        *path = if path == parse::TOP_LEVEL {
            part.to_owned()
        } else if path.starts_with('[') {
            format!("{part}{path}")
        } else {
            format!("{part}.{path}")
        };
        self
    }
}
