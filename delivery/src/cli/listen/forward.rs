//! Sends one event to the developer's local target, as the gateway built it
//! (method, path and query, headers, body), and makes the answer for the gateway.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};

use crate::destinations::cli::protocol::{EventFrame, ReplyFrame};
use crate::destinations::http::{capped_body, classify};

/// Where events go: `9000`, `localhost:9000`, or a URL (its path is a prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    base: url::Url,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        let url_text = if text.chars().all(|c| c.is_ascii_digit()) {
            format!("http://localhost:{text}")
        } else if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let base = url::Url::parse(&url_text)
            .map_err(|e| format!("{text:?} is not a port, host:port or URL ({e})"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(format!(
                "{text:?}: the target must be an http:// or https:// address"
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(format!(
                "{text:?}: the target must not have a query or fragment"
            ));
        }
        Ok(Target { base })
    }

    /// The target's URL for a path-and-query from the gateway, or `None` when it
    /// would leave the target (a path not starting with `/`, or one that turns
    /// the URL's host into another: `@evil.example/`). The gateway never sends
    /// one; a CLI connected over plain `ws://` must not be turned into a way to
    /// reach other hosts from the developer's machine all the same.
    pub fn url_for(&self, path: &str) -> Option<String> {
        if !path.starts_with('/') {
            return None;
        }
        let origin = self.base.as_str().trim_end_matches('/');
        let url = if self.base.path() == "/" {
            format!("{origin}{path}")
        } else {
            format!("{origin}{}", if path == "/" { "" } else { path })
        };
        let parsed = url::Url::parse(&url).ok()?;
        let same = parsed.scheme() == self.base.scheme()
            && parsed.host_str() == self.base.host_str()
            && parsed.port_or_known_default() == self.base.port_or_known_default()
            && parsed.username().is_empty()
            && parsed.password().is_none();
        same.then_some(url)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.base.as_str().trim_end_matches('/'))
    }
}

pub fn client() -> reqwest::Result<reqwest::Client> {
    // The local target's answer is recorded as it is: no redirects followed, no
    // proxy from the environment between the CLI and localhost.
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Sends the event; the answer, or the error, as a reply frame and body.
pub async fn forward(
    http: &reqwest::Client,
    target: &Target,
    frame: &EventFrame,
    body: Vec<u8>,
) -> (ReplyFrame, Vec<u8>) {
    let started = Instant::now();
    let mut reply = ReplyFrame {
        id: frame.id,
        ..Default::default()
    };
    let Some(url) = target.url_for(&frame.path) else {
        reply.url = target.to_string();
        reply.error_code = Some("UNKNOWN".into());
        reply.error_message = Some(format!(
            "refused by the CLI: the path {:?} does not stay on the target",
            frame.path
        ));
        return (reply, Vec::new());
    };
    reply.url = url.clone();
    let method = match reqwest::Method::from_bytes(frame.method.as_bytes()) {
        Ok(m) => m,
        Err(_) => {
            reply.error_code = Some("UNKNOWN".into());
            reply.error_message = Some(format!("invalid method {:?}", frame.method));
            return (reply, Vec::new());
        }
    };
    let mut req = http
        .request(method, &url)
        .timeout(Duration::from_millis(frame.timeout_ms.max(1)))
        .body(body);
    for (k, v) in &frame.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v))
        {
            req = req.header(name, value);
        }
    }
    let mut answer = Vec::new();
    match req.send().await {
        Ok(resp) => {
            reply.status = Some(resp.status().as_u16());
            reply.headers = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            answer = capped_body(resp, frame.response_body_limit)
                .await
                .into_bytes();
        }
        Err(e) => {
            reply.error_code = Some(classify(&e).to_owned());
            reply.error_message = Some(format!(
                "{} ({url})",
                crate::egress::redact::reqwest_error(e)
            ));
        }
    }
    reply.duration_ms = started.elapsed().as_millis() as u64;
    (reply, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_a_port_a_host_or_a_url() {
        let at = |t: &Target, p: &str| t.url_for(p).unwrap_or_else(|| panic!("{p}"));
        let t = Target::parse("9000").unwrap();
        assert_eq!(
            at(&t, "/webhooks?a=1"),
            "http://localhost:9000/webhooks?a=1"
        );
        let t = Target::parse("127.0.0.1:3000").unwrap();
        assert_eq!(at(&t, "/"), "http://127.0.0.1:3000/");
        let t = Target::parse("http://localhost:3000/api/").unwrap();
        assert_eq!(at(&t, "/hooks/x"), "http://localhost:3000/api/hooks/x");
        assert_eq!(at(&t, "/"), "http://localhost:3000/api");
        assert_eq!(
            at(&t, "//evil.example/x"),
            "http://localhost:3000/api//evil.example/x"
        );
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://x/?q=1").is_err());
        assert!(Target::parse("not a target").is_err());
    }

    #[test]
    fn a_path_cannot_take_the_cli_to_another_host() {
        let t = Target::parse("9000").unwrap();
        for p in ["@evil.example/", "evil", ":1234@evil.example/", "", "?x=1"] {
            assert_eq!(t.url_for(p), None, "{p}");
        }
    }
}
