//! The egress policy: which addresses outgoing connections may go to.

use std::net::IpAddr;

use ipnet::IpNet;

use super::EgressError;
use crate::config::EgressConfig;

/// Denied as well with `egress.block_private`: private (RFC 1918), loopback,
/// shared address space (CGNAT, often internal in clouds), IPv6 loopback and
/// unique local.
const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "100.64.0.0/10",
    "::1/128",
    "fc00::/7",
];

#[derive(Debug, Clone)]
pub struct EgressPolicy {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
    /// Empty unless `egress.block_private`.
    private: Vec<IpNet>,
}

/// A CIDR, or a single address taken as its own /32 or /128.
fn network(key: &'static str, value: &str) -> Result<IpNet, EgressError> {
    let v = value.trim();
    v.parse::<IpNet>()
        .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| EgressError::InvalidNetwork {
            key,
            value: value.to_owned(),
        })
}

fn networks(key: &'static str, list: &[String]) -> Result<Vec<IpNet>, EgressError> {
    list.iter().map(|v| network(key, v)).collect()
}

/// True if `net` holds `ip`. A network and an address of different families
/// never match (ipnet answers false), which is why addresses are canonicalised
/// first (see [`EgressPolicy::check`]).
fn any_contains(nets: &[IpNet], ip: &IpAddr) -> bool {
    nets.iter().any(|n| n.contains(ip))
}

impl EgressPolicy {
    pub fn from_config(cfg: &EgressConfig) -> Result<Self, EgressError> {
        let private = if cfg.block_private {
            PRIVATE
                .iter()
                .map(|v| network("egress.block_private", v))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(EgressPolicy {
            deny: networks("egress.deny", &cfg.deny)?,
            allow: networks("egress.allow", &cfg.allow)?,
            private,
        })
    }

    /// May a connection go to `ip`? `allow` wins over `deny` and `block_private`.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:169.254.169.254`) connects to the
    /// IPv4 address on a dual-stack socket, so it is judged as that address; a
    /// list entry written in either form still matches the raw address too.
    pub fn check(&self, ip: IpAddr) -> Result<(), EgressError> {
        let canonical = ip.to_canonical();
        let hit = |nets: &[IpNet]| any_contains(nets, &canonical) || any_contains(nets, &ip);
        if hit(&self.allow) {
            return Ok(());
        }
        let rule = if hit(&self.deny) {
            "egress.deny"
        } else if hit(&self.private) {
            "egress.block_private"
        } else {
            return Ok(());
        };
        Err(EgressError::Blocked {
            addr: canonical,
            rule,
        })
    }

    /// Checks a URL whose host is an IP literal (reqwest connects to those
    /// without asking the resolver). Names pass here: the resolver checks what
    /// they resolve to. The url crate has already normalised every IPv4 spelling
    /// (`2852039166`, `0xa9.0xfe.0xa9.0xfe`, `0251.0376.0251.0376`, `169.254.43518`)
    /// to `Host::Ipv4`, the same address the connector would use.
    pub fn check_url(&self, url: &url::Url) -> Result<(), EgressError> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) | None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn policy(tweak: impl FnOnce(&mut EgressConfig)) -> EgressPolicy {
        let mut cfg = Config::default().egress;
        tweak(&mut cfg);
        EgressPolicy::from_config(&cfg).unwrap()
    }

    fn url_blocked(p: &EgressPolicy, url: &str) -> bool {
        let u = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        p.check_url(&u).is_err()
    }

    #[test]
    fn the_defaults_block_metadata_and_link_local_but_not_loopback() {
        let p = policy(|_| {});
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:169.254.169.254",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(p.check(ip).is_err(), "{ip} should be blocked");
        }
        for ip in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "192.168.1.1",
            "93.184.215.14",
            "2606:4700::1",
            "::ffff:127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(p.check(ip).is_ok(), "{ip} should be allowed");
        }
    }

    #[test]
    fn the_error_names_the_address_and_the_key() {
        let p = policy(|_| {});
        let e = p
            .check("::ffff:169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "destination address 169.254.169.254 is blocked by egress policy (egress.deny); see README security"
        );
        let p = policy(|c| c.block_private = true);
        let e = p.check("10.1.2.3".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("(egress.block_private)"), "{e}");
    }

    #[test]
    fn block_private_denies_private_ranges_and_allow_wins() {
        let p = policy(|c| c.block_private = true);
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "127.0.0.1",
            "127.255.0.1",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.check(ip.parse().unwrap()).is_err(), "{ip}");
        }
        for ip in ["172.32.0.1", "8.8.8.8", "2001:db8::1"] {
            assert!(p.check(ip.parse().unwrap()).is_ok(), "{ip}");
        }
        let p = policy(|c| {
            c.block_private = true;
            c.allow = vec!["127.0.0.1/32".into(), "10.1.0.0/16".into(), "::1".into()];
        });
        assert!(p.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check("::1".parse().unwrap()).is_ok());
        assert!(p.check("10.1.9.9".parse().unwrap()).is_ok());
        assert!(p.check("127.0.0.2".parse().unwrap()).is_err());
        assert!(p.check("10.2.0.1".parse().unwrap()).is_err());
        // allow also wins over the deny list.
        let p = policy(|c| c.allow = vec!["169.254.10.0/24".into()]);
        assert!(p.check("169.254.10.1".parse().unwrap()).is_ok());
        assert!(p.check("169.254.169.254".parse().unwrap()).is_err());
    }

    #[test]
    fn every_spelling_of_an_ip_literal_is_checked() {
        let p = policy(|_| {});
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://169.254.169.254./latest/meta-data",
            "http://2852039166/",
            "http://0xa9fea9fe/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://0251.0376.0251.0376/",
            "http://169.254.43518/",
            "http://169.16689662/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://0.0.0.0:8600/",
            "http://0/",
            "http://[::]/",
            "https://user:pw@169.254.169.254:443/",
        ] {
            assert!(url_blocked(&p, url), "{url} should be blocked");
        }
        let p = policy(|c| c.block_private = true);
        for url in [
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
        ] {
            assert!(url_blocked(&p, url), "{url} should be blocked");
        }
        // Names are left to the resolver.
        assert!(!url_blocked(&p, "http://localhost/"));
        assert!(!url_blocked(&p, "http://metadata.google.internal/"));
    }

    #[test]
    fn bad_networks_are_refused_with_the_key_named() {
        let mut cfg = Config::default().egress;
        cfg.allow = vec!["10.0.0.0/33".into()];
        let e = EgressPolicy::from_config(&cfg).unwrap_err().to_string();
        assert!(e.starts_with("egress.allow: \"10.0.0.0/33\""), "{e}");
        cfg.allow = vec![];
        cfg.deny = vec!["not-a-network".into()];
        let e = EgressPolicy::from_config(&cfg).unwrap_err().to_string();
        assert!(e.starts_with("egress.deny:"), "{e}");
    }
}
