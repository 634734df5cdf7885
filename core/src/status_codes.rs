//! Which response statuses a retry rule retries on (`response_status_codes`).
//!
//! Hookdeck's syntax: `"500-599"` ranges, `">400"`/`">=400"`/`"<300"` comparisons,
//! `"404"` exact codes and `"!401"` exclusions. A status is retried when it matches
//! at least one inclusion (or there are only exclusions) and no exclusion.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Range(u16, u16),
    Greater(u16),
    GreaterEq(u16),
    Less(u16),
    LessEq(u16),
    Exact(u16),
}

impl Term {
    fn matches(&self, s: u16) -> bool {
        match *self {
            Term::Range(a, b) => (a..=b).contains(&s),
            Term::Greater(a) => s > a,
            Term::GreaterEq(a) => s >= a,
            Term::Less(a) => s < a,
            Term::LessEq(a) => s <= a,
            Term::Exact(a) => s == a,
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid status code expression {expr:?}: use a code (404), a range (500-599), a comparison (>400) or an exclusion (!401), codes between 200 and 599")]
pub struct StatusCodeError {
    pub expr: String,
}

/// A parsed `response_status_codes` list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusCodeSet {
    include: Vec<Term>,
    exclude: Vec<u16>,
}

fn code(s: &str, expr: &str) -> Result<u16, StatusCodeError> {
    let err = || StatusCodeError { expr: expr.into() };
    let c: u16 = s.trim().parse().map_err(|_| err())?;
    if (200..=599).contains(&c) {
        Ok(c)
    } else {
        Err(err())
    }
}

impl StatusCodeSet {
    pub fn parse<S: AsRef<str>>(exprs: &[S]) -> Result<Self, StatusCodeError> {
        let mut set = StatusCodeSet::default();
        for e in exprs {
            let e = e.as_ref().trim();
            if let Some(rest) = e.strip_prefix('!') {
                set.exclude.push(code(rest, e)?);
            } else if let Some(rest) = e.strip_prefix(">=") {
                set.include.push(Term::GreaterEq(code(rest, e)?));
            } else if let Some(rest) = e.strip_prefix("<=") {
                set.include.push(Term::LessEq(code(rest, e)?));
            } else if let Some(rest) = e.strip_prefix('>') {
                set.include.push(Term::Greater(code(rest, e)?));
            } else if let Some(rest) = e.strip_prefix('<') {
                set.include.push(Term::Less(code(rest, e)?));
            } else if let Some(rest) = e.strip_prefix('=') {
                set.include.push(Term::Exact(code(rest, e)?));
            } else if let Some((a, b)) = e.split_once('-') {
                let (a, b) = (code(a, e)?, code(b, e)?);
                if a > b {
                    return Err(StatusCodeError { expr: e.into() });
                }
                set.include.push(Term::Range(a, b));
            } else {
                set.include.push(Term::Exact(code(e, e)?));
            }
        }
        Ok(set)
    }

    pub fn matches(&self, status: u16) -> bool {
        if self.exclude.contains(&status) {
            return false;
        }
        self.include.is_empty() || self.include.iter().any(|t| t.matches(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hookdecks_example_list() {
        let s = StatusCodeSet::parse(&["500-599", ">400", "404", "!401"]).unwrap();
        assert!(s.matches(503));
        assert!(s.matches(404));
        assert!(s.matches(429));
        assert!(!s.matches(401));
        assert!(!s.matches(400));
        assert!(!s.matches(200));
    }

    #[test]
    fn only_exclusions_retry_everything_else() {
        let s = StatusCodeSet::parse(&["!410"]).unwrap();
        assert!(s.matches(500));
        assert!(!s.matches(410));
    }

    #[test]
    fn bad_expressions_are_rejected() {
        for bad in ["abc", "600", "599-500", ">", "!x", "100"] {
            assert!(StatusCodeSet::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
