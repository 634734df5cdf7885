//! `hookyard listen`'s set-up, with the ordinary API: the CLI destination
//! (created, or reused with its path updated), and one connection per source to
//! it (the source created when new). Run again on every reconnection, so a
//! destination deleted or disabled meanwhile comes back.

use std::time::Duration;

use serde_json::{json, Value};

use super::Failure;
use crate::config::API_VERSION;

/// A connection the session takes events of.
#[derive(Debug, Clone, PartialEq)]
pub struct Listened {
    pub connection_id: String,
    pub source_name: String,
    /// Paused or disabled: its events wait until it is resumed.
    pub inactive: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub destination_id: String,
    pub destination_name: String,
    pub cli_path: String,
    /// Whether the destination was disabled (and has been enabled).
    pub enabled_again: bool,
    pub connections: Vec<Listened>,
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    pub fn new(server: &url::Url, key: &str) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("hookyard-listen/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Fatal(format!("cannot build an HTTP client: {e}")))?;
        Ok(Api {
            http,
            base: format!("{}/{API_VERSION}", server.as_str().trim_end_matches('/')),
            key: key.to_owned(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Failure::Unreachable(cause(&e)))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let message = || {
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(300).collect())
        };
        let conflict = serde_json::from_str::<Value>(&text)
            .ok()
            .is_some_and(|v| v["code"] == "CONFLICT");
        match status.as_u16() {
            _ if conflict => Err(Failure::Conflict(format!("{method} {path}: {}", message()))),
            200..=299 => serde_json::from_str(&text).map_err(|e| {
                Failure::Unreachable(format!(
                    "{method} {path}: the gateway's answer is not JSON: {e}"
                ))
            }),
            401 => Err(Failure::Auth(message())),
            400..=499 => Err(Failure::Refused(format!("{method} {path}: {}", message()))),
            _ => Err(Failure::Unreachable(format!(
                "{method} {path} answered {status}: {}",
                message()
            ))),
        }
    }

    /// Makes sure the destination and connections exist, and says which. Two
    /// CLIs starting at once may both find nothing and both create: the second
    /// gets a conflict and finds what the first made.
    pub async fn prepare(
        &self,
        name: &str,
        path: Option<&str>,
        sources: &[String],
    ) -> Result<Plan, Failure> {
        let mut tries = 0;
        loop {
            match self.prepare_once(name, path, sources).await {
                Err(Failure::Conflict(_)) if tries < 3 => tries += 1,
                Err(Failure::Conflict(m)) => return Err(Failure::Refused(m)),
                other => return other,
            }
        }
    }

    async fn prepare_once(
        &self,
        name: &str,
        path: Option<&str>,
        sources: &[String],
    ) -> Result<Plan, Failure> {
        use reqwest::Method;
        let found = self
            .call(
                Method::GET,
                &format!("/destinations?name={}", urlencode(name)),
                None,
            )
            .await?;
        let existing = found["models"].as_array().and_then(|m| m.first()).cloned();
        let mut enabled_again = false;
        let dest = match existing {
            Some(d) => {
                let kind = d["type"].as_str().unwrap_or("HTTP");
                if kind != "CLI" {
                    return Err(Failure::Refused(format!(
                        "destination {name:?} is a {kind} destination, not a CLI one; \
                         choose another name with --name"
                    )));
                }
                let id = d["id"].as_str().unwrap_or_default().to_owned();
                let mut d = d;
                if let Some(p) = path.filter(|p| d["cli_path"].as_str() != Some(*p)) {
                    d = self
                        .call(
                            Method::PUT,
                            &format!("/destinations/{id}"),
                            Some(json!({"cli_path": p})),
                        )
                        .await?;
                }
                if !d["disabled_at"].is_null() {
                    d = self
                        .call(Method::PUT, &format!("/destinations/{id}/enable"), None)
                        .await?;
                    enabled_again = true;
                }
                d
            }
            None => {
                self.call(
                    Method::POST,
                    "/destinations",
                    Some(
                        json!({"name": name, "type": "CLI", "cli_path": path.unwrap_or("/"),
                        "description": "hookyard listen"}),
                    ),
                )
                .await?
            }
        };
        let destination_id = dest["id"].as_str().unwrap_or_default().to_owned();
        let mut connections = Vec::new();
        if sources.is_empty() {
            let list = self
                .call(
                    Method::GET,
                    &format!("/connections?destination_id={destination_id}&limit=100"),
                    None,
                )
                .await?;
            for c in list["models"].as_array().into_iter().flatten() {
                connections.push(listened(c));
            }
            if connections.is_empty() {
                return Err(Failure::Usage(format!(
                    "destination {name:?} has no connections yet: name the sources to listen \
                     to, e.g. `hookyard listen 9000 shop`"
                )));
            }
        }
        for source in sources {
            let c = self
                .call(
                    Method::PUT,
                    "/connections",
                    Some(json!({"name": name, "source": {"name": source},
                        "destination_id": destination_id})),
                )
                .await?;
            if c["destination"]["id"].as_str() != Some(destination_id.as_str()) {
                return Err(Failure::Refused(format!(
                    "source {source:?} already has a connection named {name:?} to destination \
                     {:?}; choose another name with --name",
                    c["destination"]["name"].as_str().unwrap_or("?")
                )));
            }
            connections.push(listened(&c));
        }
        Ok(Plan {
            destination_id,
            destination_name: name.to_owned(),
            cli_path: dest["cli_path"].as_str().unwrap_or("/").to_owned(),
            enabled_again,
            connections,
        })
    }
}

fn listened(c: &Value) -> Listened {
    Listened {
        connection_id: c["id"].as_str().unwrap_or_default().to_owned(),
        source_name: c["source"]["name"].as_str().unwrap_or("?").to_owned(),
        inactive: if !c["disabled_at"].is_null() {
            Some("disabled")
        } else if !c["paused_at"].is_null() {
            Some("paused")
        } else {
            None
        },
    }
}

/// Why a call got no answer, in the words of its innermost cause ("Connection
/// refused (os error 111)"), without the URL (it may carry a name the user typed).
fn cause(e: &reqwest::Error) -> String {
    let mut last = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        "the gateway did not answer in time".to_owned()
    } else {
        format!("cannot reach the gateway ({last})")
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
