//! Hookdeck's rule for names of sources, destinations and connections: one rule
//! for the API that creates them and for ingest, which refuses a name no source
//! can have before looking it up (a scanner's junk never reaches a cache or the
//! database).

/// The longest name.
pub const MAX_NAME_LEN: usize = 155;

/// Letters, digits, `-` and `_`, 1 to [`MAX_NAME_LEN`] of them.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `name` cut to at most [`MAX_NAME_LEN`] characters, with `…` when cut: what an
/// error message may quote of a name someone sent.
pub fn quoted_prefix(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_LEN) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(is_valid_name("stripe-prod_1"));
        assert!(is_valid_name(&"a".repeat(155)));
        for bad in ["", "a b", "a.b", "é", "a%2e", &"a".repeat(156)] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
        assert_eq!(quoted_prefix("short"), "short");
        assert_eq!(quoted_prefix(&"x".repeat(70_000)).chars().count(), 156);
    }
}
