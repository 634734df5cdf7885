//! Content terms of a query: filter-language patterns on a request's parts, text
//! its path contains, and search text anywhere in it. They need the stored
//! request, so the store cannot check them; this does, on requests it read.

use hookyard_core::filter::Filter;

use crate::model::RequestRecord;
use crate::route::{RequestView, RouteInput};

#[derive(Debug)]
pub enum ContentTerm {
    /// A filter-language pattern on `body`, `headers`, `path` or `parsed_query`.
    Pattern(&'static str, Filter),
    /// Text the path contains.
    PathContains(String),
    /// Text (lowercase) the body, headers, path or query string contains, in any case.
    Search(String),
}

/// Whether `req` (loaded with its body) passes every term.
pub fn matches(terms: &[ContentTerm], req: &RequestRecord) -> bool {
    if terms.is_empty() {
        return true;
    }
    // Built once, only if a pattern needs it: parsing a large body is the cost here.
    let mut view: Option<RequestView> = None;
    terms.iter().all(|t| match t {
        ContentTerm::Pattern(part, f) => {
            let v = view.get_or_insert_with(|| RequestView::new(&RouteInput::from(req)));
            f.matches(match *part {
                "body" => &v.body,
                "headers" => &v.headers,
                "path" => &v.path,
                _ => &v.query,
            })
        }
        ContentTerm::PathContains(text) => req.path.contains(text.as_str()),
        ContentTerm::Search(text) => {
            contains_folded(req.body.as_deref().unwrap_or_default(), text)
                || contains_folded(req.path.as_bytes(), text)
                || contains_folded(req.query.as_bytes(), text)
                || req.headers.iter().any(|(k, v)| {
                    contains_folded(k.as_bytes(), text) || contains_folded(v.as_bytes(), text)
                })
        }
    })
}

/// Whether `hay` contains `needle` (lowercase), ASCII letters compared in any case.
/// Bytes, not text: a body need not be UTF-8.
fn contains_folded(hay: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return true;
    }
    if hay.len() < needle.len() {
        return false;
    }
    let first = needle[0];
    hay.windows(needle.len()).any(|w| {
        w[0].to_ascii_lowercase() == first
            && w.iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_found_in_any_case_in_bytes_that_are_not_utf8() {
        assert!(contains_folded(b"\xff\xfe{\"Order\": 1}", "order"));
        assert!(!contains_folded(b"ord", "order"));
        assert!(contains_folded(b"x-Shopify-Topic", "shopify"));
    }
}
