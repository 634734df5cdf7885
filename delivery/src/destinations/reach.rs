//! The egress policy for broker and bus destinations, whose clients connect by
//! themselves: the host of each URL is resolved and checked before a client is
//! made, so a destination cannot point a broker client at a denied network.
//!
//! The client resolves the name again when it connects; a name that changes
//! its answer between the two lookups (DNS rebinding) is not caught here, as it
//! is for HTTP destinations, whose connector only gets the checked addresses.

use super::DeliveryResult;
use crate::egress::{self, EgressError, EgressPolicy};

/// Checks the host of `url` (text, any scheme) against the policy.
pub async fn check(policy: &EgressPolicy, url: &str) -> Result<(), DeliveryResult> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| DeliveryResult::permanent("UNKNOWN", format!("invalid URL: {e}")))?;
    if let Err(e) = policy.check_url(&parsed) {
        return Err(blocked(e));
    }
    let Some(url::Host::Domain(host)) = parsed.host() else {
        return Ok(());
    };
    match egress::resolve::allowed_addrs(policy, host).await {
        Ok(_) => Ok(()),
        Err(e @ EgressError::Blocked { .. }) => Err(blocked(e)),
        Err(e) => Err(DeliveryResult::error("DNS_LOOKUP_FAILED", e.to_string())),
    }
}

fn blocked(e: EgressError) -> DeliveryResult {
    DeliveryResult::permanent(egress::BLOCKED_CODE, e.to_string())
}
