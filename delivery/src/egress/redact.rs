//! Credentials out of URLs and of error texts that quote them.
//!
//! reqwest's errors print the request's URL, and a destination URL may carry an
//! API key in its query (`?api_key=…`, or an `api_key` auth method sent in the
//! query) or a user and password (`https://user:pass@host/`). Every error text
//! that is stored with an attempt or sent in an alert goes through here.

/// What replaces a credential.
pub const REDACTED: &str = "REDACTED";

/// `url` with its user, password and every query value replaced by
/// [`REDACTED`] (keys stay: they say which parameter was sent), without its
/// fragment.
pub fn url(url: &url::Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() {
        // Fails only for URLs that cannot have a user (no host); nothing to hide.
        let _ = u.set_username(REDACTED);
    }
    if u.password().is_some() {
        let _ = u.set_password(Some(REDACTED));
    }
    if u.query().is_some_and(|q| !q.is_empty()) {
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        u.query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|k| (k.as_str(), REDACTED)));
    }
    u.set_fragment(None);
    u.to_string()
}

/// A URL given as text, redacted; text that is not a URL comes back as it is.
pub fn url_text(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(u) => url(&u),
        Err(_) => text.to_owned(),
    }
}

/// Characters that end a URL quoted in prose (reqwest writes `for url (…)`).
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '<' | '>' | '`')
}

fn scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// `text` with every URL in it (`scheme://…` up to a space or a closing
/// bracket or quote) redacted by [`url`].
pub fn urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let start = rest[..sep]
            .char_indices()
            .rev()
            .take_while(|(_, c)| scheme_char(*c))
            .last()
            .map_or(sep, |(i, _)| i);
        let end = rest[sep..]
            .char_indices()
            .find(|(_, c)| ends_url(*c))
            .map_or(rest.len(), |(i, _)| sep + i);
        out.push_str(&rest[..start]);
        let candidate = &rest[start..end];
        match url::Url::parse(candidate) {
            Ok(u) if start < sep => out.push_str(&url(&u)),
            _ => out.push_str(candidate),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The text of a failed outgoing request: what failed, the redacted URL, and
/// the chain of causes (reqwest's own text names only the kind and the URL, and
/// the cause is what an operator needs: "Connection refused", a TLS error, …).
pub fn reqwest_error(e: reqwest::Error) -> String {
    let shown = e.url().map(url);
    let e = e.without_url();
    let mut text = e.to_string();
    if let Some(u) = shown {
        text.push_str(&format!(" for url ({u})"));
    }
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    // The causes come from other crates; a URL one of them quotes is redacted too.
    urls_in(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_query_values_are_replaced() {
        let u = url::Url::parse("https://bob:hunter2@example.com/hook?api_key=SECRET123&x=1#frag")
            .unwrap();
        assert_eq!(
            url(&u),
            "https://REDACTED:REDACTED@example.com/hook?api_key=REDACTED&x=REDACTED"
        );
        assert_eq!(
            url_text("http://example.com/plain"),
            "http://example.com/plain"
        );
        assert_eq!(url_text("not a url"), "not a url");
    }

    #[test]
    fn urls_in_prose_are_redacted_and_the_rest_kept() {
        let t = "error sending request for url (http://127.0.0.1:9/hook?api_key=SECRET123): \
                 see https://user:pw@h.example/x and ftp:// nothing";
        let r = urls_in(t);
        assert!(!r.contains("SECRET123") && !r.contains("pw@"), "{r}");
        assert!(
            r.starts_with("error sending request for url (http://127.0.0.1:9/hook?api_key=REDACTED): see https://REDACTED:REDACTED@h.example/x"),
            "{r}"
        );
        assert!(r.ends_with("and ftp:// nothing"), "{r}");
        assert_eq!(urls_in("no url here"), "no url here");
    }
}
