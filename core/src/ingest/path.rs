//! Where a webhook goes: `/e/{source}[/rest]` split into the source name and the
//! path forwarded to destinations, and the check that keeps that path inside the
//! destination's own path.

use percent_encoding::percent_decode;

use super::Refusal;

/// Rounds of percent-decoding after which a path that still changes is refused:
/// no provider encodes a path eight times, an attacker hiding a `..` might.
const MAX_DECODE_ROUNDS: usize = 8;

/// A URL path of the ingest route, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestPath<'a> {
    /// The source name (plain ASCII, so taken as is, without decoding).
    pub source: &'a str,
    /// The path after `/e/{source}`, exactly as sent (still percent-encoded) and
    /// always starting with `/` (just `/` when nothing follows the source).
    pub forwarded: &'a str,
}

/// Why a forwarded path is refused; the text tells the sender what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnsafePath {
    #[error(
        "the path after /e/<source> must not contain `.` or `..` segments, in any \
         encoding (`%2e`, `%252e`, …): send the path the destination should receive"
    )]
    DotSegment,
    #[error(
        "the path after /e/<source> must not contain a backslash, in any encoding \
         (`\\`, `%5c`, `%255c`, …): use `/` between segments"
    )]
    Backslash,
    #[error(
        "the path after /e/<source> must not contain control characters (NUL, \
         newline, …), in any encoding: remove them"
    )]
    ControlByte,
    #[error(
        "the path after /e/<source> is percent-encoded more than {MAX_DECODE_ROUNDS} \
         times over: send it encoded once"
    )]
    EncodedTooDeeply,
}

/// Splits the URL path of an ingest request (`/e/{source}[/rest]`, as received, not
/// decoded) and checks the forwarded part with [`check_forwarded_path`].
pub fn split_ingest_path(path: &str) -> Result<IngestPath<'_>, Refusal> {
    let after = path.strip_prefix("/e/").ok_or(Refusal::NoSourceName)?;
    let (source, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
    if source.is_empty() {
        return Err(Refusal::NoSourceName);
    }
    if !crate::names::is_valid_name(source) {
        return Err(Refusal::UnknownSource(crate::names::quoted_prefix(source)));
    }
    check_forwarded_path(rest)?;
    let forwarded = if rest.is_empty() { "/" } else { rest };
    Ok(IngestPath { source, forwarded })
}

/// Refuses a forwarded path that could leave the destination's path once a URL is
/// built from it (URL libraries resolve `..`, `%2e%2e` and, for `http(s)`, `\`;
/// a destination's own server may decode once more before resolving).
///
/// The path is percent-decoded again and again until it stops changing, and every
/// stage must be free of `\`, control bytes, and `.` / `..` segments when split on
/// `/` (a segment is also a dot segment when only `;parameters` follow the dots,
/// which some servers strip before resolving). Decoding turns `%2f` into `/`, so
/// an encoded slash next to dots (`..%2f`, `%2f..`) becomes a dot segment too.
/// Bytes that are not UTF-8 once decoded (`%FF`) are fine: only the checks above
/// matter, and the path itself is forwarded unchanged.
pub fn check_forwarded_path(path: &str) -> Result<(), UnsafePath> {
    let mut stage = path.as_bytes().to_vec();
    for _ in 0..MAX_DECODE_ROUNDS {
        check_stage(&stage)?;
        let decoded: Vec<u8> = percent_decode(&stage).collect();
        if decoded == stage {
            return Ok(());
        }
        stage = decoded;
    }
    check_stage(&stage)?;
    // Still changing after every round: `%25` nested deeper than anyone sends.
    if percent_decode(&stage).eq(stage.iter().copied()) {
        Ok(())
    } else {
        Err(UnsafePath::EncodedTooDeeply)
    }
}

/// The checks on one stage of decoding.
fn check_stage(bytes: &[u8]) -> Result<(), UnsafePath> {
    if bytes.iter().any(|b| b.is_ascii_control()) {
        return Err(UnsafePath::ControlByte);
    }
    if bytes.contains(&b'\\') {
        return Err(UnsafePath::Backslash);
    }
    if bytes.split(|b| *b == b'/').any(is_dot_segment) {
        return Err(UnsafePath::DotSegment);
    }
    Ok(())
}

fn is_dot_segment(segment: &[u8]) -> bool {
    let name = segment.split(|b| *b == b';').next().unwrap_or(segment);
    name == b"." || name == b".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(path: &str) -> Result<&str, Refusal> {
        split_ingest_path(path).map(|p| {
            assert_eq!(p.source, "src");
            p.forwarded
        })
    }

    fn refused(path: &str) -> UnsafePath {
        match split_ingest_path(path) {
            Err(Refusal::BadPath(why)) => why,
            other => panic!("{path}: expected a bad path, got {other:?}"),
        }
    }

    #[test]
    fn the_source_and_the_rest_are_split_and_the_rest_starts_with_a_slash() {
        assert_eq!(forwarded("/e/src"), Ok("/"));
        assert_eq!(forwarded("/e/src/"), Ok("/"));
        assert_eq!(forwarded("/e/src/a/b"), Ok("/a/b"));
        assert_eq!(forwarded("/e/src/a/b/"), Ok("/a/b/"), "trailing slash kept");
        assert_eq!(forwarded("/e/src//x"), Ok("//x"));
    }

    #[test]
    fn a_missing_source_name_is_not_found() {
        for path in ["/e/", "/e", "/e//x", "/x/src", ""] {
            let refusal = split_ingest_path(path).unwrap_err();
            assert_eq!(refusal, Refusal::NoSourceName, "{path}");
            assert_eq!(refusal.status(), 404);
        }
    }

    #[test]
    fn encoded_and_unusual_bytes_are_kept_byte_exact() {
        assert_eq!(forwarded("/e/src/a%20b/%E2%9C%93"), Ok("/a%20b/%E2%9C%93"));
        assert_eq!(
            forwarded("/e/src/caf\u{e9}/\u{2713}"),
            Ok("/caf\u{e9}/\u{2713}")
        );
        assert_eq!(forwarded("/e/src/orders/a%2Fb%25"), Ok("/orders/a%2Fb%25"));
        assert_eq!(forwarded("/e/src/%FF"), Ok("/%FF"));
        assert_eq!(
            forwarded("/e/src/%zz%2"),
            Ok("/%zz%2"),
            "not an escape: kept"
        );
        // Dots inside a name are a name, not a way up.
        assert_eq!(
            forwarded("/e/src/..hidden/a.b/..."),
            Ok("/..hidden/a.b/...")
        );
        assert_eq!(forwarded("/e/src/%2e%2ehidden"), Ok("/%2e%2ehidden"));
    }

    #[test]
    fn dot_segments_are_refused_in_every_encoding() {
        for path in [
            "/e/src/..",
            "/e/src/../admin",
            "/e/src/a/./b",
            "/e/src/.",
            "/e/src/%2e",
            "/e/src/%2e%2e/admin",
            "/e/src/%2E%2E/admin",
            "/e/src/%2E./admin",
            "/e/src/.%2e/admin",
            "/e/src/%2e%2E/admin",
            "/e/src/%252e%252e/admin",
            "/e/src/%252E%252e/admin",
            "/e/src/%25252e%25252e/admin",
            "/e/src/..%2fadmin",
            "/e/src/..%2Fadmin",
            "/e/src/x%2f..",
            "/e/src/x%2F..%2Fadmin",
            "/e/src/x%252f..%252fadmin",
            "/e/src/..;jsessionid=1/admin",
        ] {
            assert_eq!(refused(path), UnsafePath::DotSegment, "{path}");
        }
    }

    #[test]
    fn backslashes_are_refused_in_every_encoding() {
        for path in [
            "/e/src/x\\..\\..\\admin",
            "/e/src/%5c..%5cadmin",
            "/e/src/%5C..%5Cadmin",
            "/e/src/%255c..%255cadmin",
            "/e/src/%255C",
            "/e/src/a%5cb",
        ] {
            assert_eq!(refused(path), UnsafePath::Backslash, "{path}");
        }
    }

    #[test]
    fn control_bytes_are_refused_in_every_encoding() {
        for path in [
            "/e/src/a%00b",
            "/e/src/a%0Ab",
            "/e/src/%250d",
            "/e/src/a\tb",
            "/e/src/%7f",
        ] {
            assert_eq!(refused(path), UnsafePath::ControlByte, "{path}");
        }
    }

    #[test]
    fn a_path_encoded_too_many_times_is_refused() {
        let mut deep = "%2e".to_owned();
        for _ in 0..MAX_DECODE_ROUNDS + 1 {
            deep = deep.replace('%', "%25");
        }
        assert_eq!(
            refused(&format!("/e/src/x{deep}x")),
            UnsafePath::EncodedTooDeeply
        );
        let mut fine = "%41".to_owned();
        for _ in 0..MAX_DECODE_ROUNDS - 2 {
            fine = fine.replace('%', "%25");
        }
        assert!(forwarded(&format!("/e/src/{fine}")).is_ok(), "{fine}");
    }

    #[test]
    fn a_bad_path_is_a_400_that_says_what_to_fix() {
        let refusal = split_ingest_path("/e/src/%2e%2e/admin").unwrap_err();
        assert_eq!(refusal.status(), 400);
        assert!(refusal.to_string().contains("`..`"), "{refusal}");
    }
}
