//! Destination types. Each type is one file implementing [`Adapter`]; adding a type
//! means that file and one line in [`Adapters::for_destination`].

pub mod confined;
pub mod http;

use async_trait::async_trait;

use crate::model::{Destination, RequestRecord};

/// One delivery to make: the event's request, as it goes to the destination.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub event_id: &'a str,
    pub request: &'a RequestRecord,
    pub destination: &'a Destination,
    pub attempt_number: i64,
}

/// What a destination answered, or why it could not be reached.
#[derive(Debug, Clone, Default)]
pub struct DeliveryResult {
    pub success: bool,
    pub response_status: Option<u16>,
    pub response_headers: Option<Vec<(String, String)>>,
    pub response_body: Option<String>,
    /// One of Hookdeck's attempt error codes (`TIMEOUT`, `CONNECTION_REFUSED`, …).
    pub error_code: Option<&'static str>,
    pub error_message: Option<String>,
    pub requested_url: Option<String>,
    pub http_method: Option<String>,
    /// What the destination asked for with `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

impl DeliveryResult {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        DeliveryResult {
            error_code: Some(code),
            error_message: Some(message.into()),
            ..Default::default()
        }
    }
}

#[async_trait]
pub trait Adapter: Send + Sync {
    async fn deliver(&self, d: &Delivery<'_>) -> DeliveryResult;
}

/// The adapters of this process, built once from the configuration.
pub struct Adapters {
    pub http: http::HttpAdapter,
}

impl Adapters {
    pub fn for_destination(&self, _d: &Destination) -> &dyn Adapter {
        &self.http
    }
}
