//! The resolver every outgoing client uses: it resolves names itself and hands
//! the connector only the addresses the egress policy allows.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{EgressError, EgressPolicy};

/// Resolves with the system resolver (tokio's `lookup_host`, getaddrinfo on a
/// blocking thread, as reqwest's default does) and drops the addresses the
/// policy denies. The connector only ever sees what this returns, so the address
/// checked is the address connected to: a second lookup cannot swap it.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<EgressPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        GuardedResolver { policy }
    }
}

/// The allowed addresses of `host`, or why there is none: when every address is
/// denied, the refusal of the first (so the error names an address).
pub async fn allowed_addrs(
    policy: &EgressPolicy,
    host: &str,
) -> Result<Vec<SocketAddr>, EgressError> {
    // Port 0: reqwest sets the URL's port (or the scheme's) on what we return.
    let found =
        tokio::net::lookup_host((host, 0))
            .await
            .map_err(|source| EgressError::Resolve {
                host: host.to_owned(),
                source,
            })?;
    let mut allowed = Vec::new();
    let mut refused = None;
    for addr in found {
        match policy.check(addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    if allowed.is_empty() {
        return Err(refused.unwrap_or_else(|| EgressError::NoAddress {
            host: host.to_owned(),
        }));
    }
    Ok(allowed)
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = allowed_addrs(&policy, &host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The start of every outgoing client: the guarded resolver, and no redirects
/// (a redirect to an IP literal would never reach the resolver, and following
/// one would send the request somewhere the operator did not configure).
///
/// With `HTTP(S)_PROXY` set, reqwest connects to the proxy: the resolver then
/// checks the proxy's address and the proxy resolves the destination (IP-literal
/// URLs are still checked by [`EgressPolicy::check_url`]).
pub fn client_builder(policy: Arc<EgressPolicy>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .redirect(reqwest::redirect::Policy::none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn policy(block_private: bool, allow: &[&str]) -> EgressPolicy {
        let mut cfg = Config::default().egress;
        cfg.block_private = block_private;
        cfg.allow = allow.iter().map(|s| (*s).to_owned()).collect();
        EgressPolicy::from_config(&cfg).unwrap()
    }

    #[tokio::test]
    async fn a_name_is_judged_by_the_addresses_it_resolves_to() {
        let open = policy(false, &[]);
        let addrs = allowed_addrs(&open, "localhost").await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        let closed = policy(true, &[]);
        let e = allowed_addrs(&closed, "localhost").await.unwrap_err();
        assert!(matches!(e, EgressError::Blocked { .. }), "{e}");
        // Only the allowed address of the name is kept.
        let one = policy(true, &["127.0.0.1/32"]);
        let addrs = allowed_addrs(&one, "localhost").await.unwrap();
        assert!(addrs
            .iter()
            .all(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST));
    }
}
