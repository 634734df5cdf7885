//! Egress: what outgoing requests (deliveries, alert webhooks) may connect to,
//! and what of their URLs may be written down.
//!
//! - [`policy`]: the [`EgressPolicy`] (`egress.deny`, `egress.allow`,
//!   `egress.block_private`) and the check of one address or URL.
//! - [`resolve`]: the reqwest resolver that applies the policy to every address a
//!   name resolves to, and the client builder every outgoing client starts from.
//! - [`redact`]: credentials (userinfo, query values) out of URLs and error texts
//!   before they are stored or sent.
//!
//! The check is on addresses, not URL text: a name is resolved once, by us, and
//! only the addresses the policy allows are handed to the connector, so a name
//! that resolves to a metadata address (DNS rebinding included) is refused.
//! reqwest does not resolve IP-literal hosts, so those are checked on the URL
//! ([`EgressPolicy::check_url`]) before a request is sent; redirects are not
//! followed by any egress client, so no other URL is ever connected to.

pub mod policy;
pub mod redact;
pub mod resolve;

pub use policy::EgressPolicy;

use std::net::IpAddr;

/// The error code of an attempt the egress policy refused.
pub const BLOCKED_CODE: &str = "EGRESS_BLOCKED";

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The connection would go to an address the policy denies; `rule` is the
    /// configuration key that denies it.
    #[error(
        "destination address {addr} is blocked by egress policy ({rule}); see README security"
    )]
    Blocked { addr: IpAddr, rule: &'static str },
    #[error("{key}: {value:?} is not a network (a CIDR such as 10.0.0.0/8, or an address)")]
    InvalidNetwork { key: &'static str, value: String },
    #[error("could not resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} resolved to no address")]
    NoAddress { host: String },
}

impl EgressError {
    /// The egress refusal behind a reqwest error, if that is what it is: the
    /// resolver's error travels as the source of hyper's connect error.
    pub fn find_in<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a EgressError> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = source {
            if let Some(found) = err.downcast_ref::<EgressError>() {
                return matches!(found, EgressError::Blocked { .. }).then_some(found);
            }
            source = err.source();
        }
        None
    }
}
