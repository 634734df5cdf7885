//! What the AWS destinations (`AWS_SQS`, `AWS_EVENTBRIDGE`) share: the SDK
//! configuration from a destination's access settings (or the standard AWS chain),
//! and the classification of the SDK's errors.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};

use super::{reach, BrokerSettings, DeliveryResult};
use crate::model::AwsAccess;

/// The SDK configuration of one destination. Credentials given in the config
/// win; otherwise the standard chain (environment, profile, instance role).
/// The SDK's own retries are off: the connection's retry rule decides.
pub async fn sdk_config(
    a: &AwsAccess,
    settings: &BrokerSettings,
) -> Result<aws_config::SdkConfig, DeliveryResult> {
    // A chosen endpoint may point anywhere, so it is checked; AWS's own regional
    // endpoints are public services, not the operator's networks.
    if let Some(endpoint) = &a.endpoint_url {
        reach::check(&settings.egress, endpoint).await?;
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
                .operation_timeout(settings.timeout)
                .build(),
        );
    if let Some(region) = &a.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &a.endpoint_url {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if let (Some(id), Some(secret)) = (&a.access_key_id, &a.secret_access_key) {
        loader = loader.credentials_provider(Credentials::new(
            id.clone(),
            secret.clone(),
            a.session_token.clone(),
            None,
            "hookyard-destination-config",
        ));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(DeliveryResult::permanent(
            "UNKNOWN",
            "no AWS region: set the destination's config.region (or AWS_REGION for the gateway)",
        ));
    }
    Ok(config)
}

/// AWS error codes that retrying cannot fix, by what they mean.
fn permanent_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "AWS.SimpleQueueService.NonExistentQueue"
        | "QueueDoesNotExist"
        | "ResourceNotFoundException"
        | "NotFoundException" => "NOT_FOUND",
        "AccessDenied"
        | "AccessDeniedException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "NotAuthorizedForSourceException"
        | "KMS.AccessDeniedException"
        | "InvalidSecurity" => "PERMISSION_DENIED",
        "InvalidMessageContents"
        | "InvalidParameterValue"
        | "InvalidAttributeValue"
        | "InvalidAttributeName"
        | "MalformedDetail"
        | "InvalidArgument"
        | "ValidationException"
        | "MissingParameter"
        | "UnsupportedOperation" => "MESSAGE_REJECTED",
        _ => return None,
    })
}

/// The attempt's result for an AWS error code and message.
pub fn service_error(service: &str, code: &str, message: &str) -> DeliveryResult {
    let text = format!("{service} answered {code}: {message}");
    if let Some(kind) = permanent_code(code) {
        return DeliveryResult::permanent(kind, text);
    }
    let lower = code.to_ascii_lowercase();
    if lower.contains("throttl") || lower.contains("limitexceeded") || lower.contains("overlimit") {
        return DeliveryResult::error("THROTTLED", text);
    }
    DeliveryResult::error("BROKER_ERROR", text)
}

/// The attempt's result for an SDK error: the service's refusal by its code,
/// a request that never got an answer by how it failed.
pub fn sdk_error<E, R>(service: &str, e: SdkError<E, R>) -> DeliveryResult
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match &e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            service_error(
                service,
                err.code().unwrap_or("Unknown"),
                err.message().unwrap_or("no message"),
            )
        }
        SdkError::TimeoutError(_) => {
            DeliveryResult::error("TIMEOUT", format!("{service}: no answer in time"))
        }
        SdkError::DispatchFailure(f) => {
            let text = format!("{service}: {}", chain(&e));
            if f.is_timeout() {
                DeliveryResult::error("TIMEOUT", text)
            } else if f.is_io() {
                DeliveryResult::error("CONNECTION_REFUSED", text)
            } else {
                DeliveryResult::error("BROKER_ERROR", text)
            }
        }
        SdkError::ConstructionFailure(_) => {
            // Missing credentials end here, before anything is sent.
            DeliveryResult::permanent("PERMISSION_DENIED", format!("{service}: {}", chain(&e)))
        }
        _ => DeliveryResult::error("BROKER_ERROR", format!("{service}: {}", chain(&e))),
    }
}

/// An error and its causes, one line (the SDK's top-level text is terse).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    crate::egress::redact::urls_in(&parts.join(": "))
}
