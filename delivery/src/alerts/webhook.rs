//! Sends alerts to a chat webhook as Slack-compatible JSON (`{"text": …}`),
//! which Slack, Mattermost, Rocket.Chat and Discord's `/slack` endpoint accept.

use std::time::Duration;

use super::message::Message;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("alert webhook {url}: {message}")]
    Failed { url: String, message: String },
}

pub async fn send(client: &reqwest::Client, url: &str, m: &Message) -> Result<(), WebhookError> {
    let text = format!("*{}*\n{}", m.subject, m.body);
    let fail = |message: String| WebhookError::Failed {
        url: url.to_owned(),
        message,
    };
    let resp = client
        .post(url)
        .timeout(Duration::from_secs(15))
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("answered {}", resp.status())));
    }
    Ok(())
}
