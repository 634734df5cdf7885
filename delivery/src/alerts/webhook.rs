//! Sends alerts to a chat webhook as Slack-compatible JSON (`{"text": …}`),
//! which Slack, Mattermost, Rocket.Chat and Discord's `/slack` endpoint accept.

use std::time::Duration;

use super::message::Message;
use crate::egress::{redact, EgressPolicy};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// `url` is redacted (userinfo and query values): the error is logged.
    #[error("alert webhook {url}: {message}")]
    Failed { url: String, message: String },
}

/// POSTs `m` to `url` with `client`, which must come from
/// [`crate::egress::resolve::client_builder`] (guarded resolver, no redirects: a
/// redirect answer is a failed send, so an alert never lands where the trigger
/// does not say).
pub async fn send(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    url: &str,
    m: &Message,
) -> Result<(), WebhookError> {
    let text = format!("*{}*\n{}", m.subject, m.body);
    let fail = |message: String| WebhookError::Failed {
        url: redact::url_text(url),
        message,
    };
    let parsed = url::Url::parse(url).map_err(|e| fail(format!("invalid url: {e}")))?;
    // reqwest connects to an IP-literal host without asking the resolver.
    egress.check_url(&parsed).map_err(|e| fail(e.to_string()))?;
    let resp = client
        .post(parsed)
        .timeout(Duration::from_secs(15))
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .map_err(|e| fail(redact::reqwest_error(e)))?;
    if !resp.status().is_success() {
        return Err(fail(format!("answered {}", resp.status())));
    }
    Ok(())
}
