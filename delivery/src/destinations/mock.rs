//! `MOCK_API` (Hookdeck's): accepts every event and discards it, recording a
//! successful attempt, to try a connection's filters and transformations out.

use async_trait::async_trait;

use super::{message, Adapter, Delivery, DeliveryResult};

pub struct MockAdapter;

#[async_trait]
impl Adapter for MockAdapter {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult {
        DeliveryResult {
            success: true,
            response_status: Some(200),
            response_body: Some(
                serde_json::json!({
                    "mock": "accepted and discarded",
                    "bytes": message::body(d).len(),
                })
                .to_string(),
            ),
            requested_url: Some("mock://discard".to_owned()),
            ..Default::default()
        }
    }
}
