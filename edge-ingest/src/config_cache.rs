//! The Worker's copy of its source configuration, fetched from delivery: when to
//! ask delivery again, and what to answer with meanwhile. An isolate keeps one
//! copy in memory; the glue also keeps the last good one in R2, so a fresh isolate
//! accepts webhooks while delivery is down.

use std::rc::Rc;

use hookyard_core::edge::{EdgeConfig, VersionedConfig};

/// How often an isolate asks delivery for a newer configuration, by default: a
/// source change made through the API is honoured at the edge within this time.
pub const DEFAULT_REFRESH_SECONDS: u32 = 10;

/// A webhook for a source the copy does not know, or whose signature does not
/// check out, asks delivery at once (the source may be new, the secret rotated),
/// but not more often than this: a flood of unknown names costs delivery one
/// small request a second per isolate.
pub const EARLY_REFRESH_MS: i64 = 1_000;

/// The configuration a webhook is admitted with.
#[derive(Debug, Clone)]
pub struct Current {
    pub version: String,
    pub config: Rc<EdgeConfig>,
}

/// What to do for the webhook at hand.
#[derive(Debug)]
pub enum Next {
    /// The copy is fresh enough.
    Use(Current),
    /// Ask delivery (sending the version held, if any, for a `304`).
    Fetch { have: Option<String> },
}

#[derive(Debug, Default)]
pub struct ConfigCache {
    current: Option<Current>,
    /// When delivery was last asked (answered or not): a delivery that does not
    /// answer is asked again only after the refresh interval, not per webhook.
    asked_at_ms: Option<i64>,
}

impl ConfigCache {
    /// `early`: the webhook was refused with the copy held (unknown source or
    /// failed verification) and would be worth a newer one.
    pub fn next(&self, now_ms: i64, refresh_ms: i64, early: bool) -> Next {
        let since = self.asked_at_ms.map(|t| now_ms.saturating_sub(t));
        let wait = if early { EARLY_REFRESH_MS } else { refresh_ms };
        match (&self.current, since) {
            (Some(c), Some(since)) if since < wait => Next::Use(c.clone()),
            // Never asked in this isolate, or asked long enough ago.
            _ => Next::Fetch {
                have: self.current.as_ref().map(|c| c.version.clone()),
            },
        }
    }

    /// Delivery answered with a configuration (new or not).
    pub fn fetched(&mut self, now_ms: i64, v: VersionedConfig) -> Current {
        self.asked_at_ms = Some(now_ms);
        let c = Current {
            version: v.version,
            config: Rc::new(v.config),
        };
        self.current = Some(c.clone());
        c
    }

    /// Delivery answered `304` for the version held.
    pub fn unchanged(&mut self, now_ms: i64) -> Option<Current> {
        self.asked_at_ms = Some(now_ms);
        self.current.clone()
    }

    /// Delivery did not answer usably: keep what is held, ask again after the
    /// refresh interval.
    pub fn failed(&mut self, now_ms: i64) -> Option<Current> {
        self.asked_at_ms = Some(now_ms);
        self.current.clone()
    }

    /// The last good configuration kept in R2, when the isolate holds none.
    pub fn restore(&mut self, v: VersionedConfig) -> Current {
        match &self.current {
            Some(c) => c.clone(),
            None => {
                let c = Current {
                    version: v.version,
                    config: Rc::new(v.config),
                };
                self.current = Some(c.clone());
                c
            }
        }
    }

    pub fn current(&self) -> Option<Current> {
        self.current.clone()
    }
}

/// Whether the configuration (which carries verification secrets) may be
/// fetched from `url`: over TLS, or in plain HTTP from this machine only.
pub fn secrets_may_travel_to(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_travel_over_tls_or_on_this_machine_only() {
        for ok in [
            "https://delivery.example.com",
            "http://127.0.0.1:8600",
            "http://localhost",
            "http://[::1]:9/x",
        ] {
            assert!(secrets_may_travel_to(ok), "{ok}");
        }
        for no in [
            "http://delivery.example.com",
            "http://127.0.0.1.evil.com:80",
            "http://user@evil.com:1@127.0.0.1",
            "ftp://127.0.0.1",
            "127.0.0.1:8600",
        ] {
            assert!(!secrets_may_travel_to(no), "{no}");
        }
    }

    fn versioned(n: u64) -> VersionedConfig {
        VersionedConfig::new(EdgeConfig {
            max_body_bytes: n,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn a_fresh_copy_is_used_until_the_refresh_interval() {
        let mut c = ConfigCache::default();
        assert!(matches!(
            c.next(0, 10_000, false),
            Next::Fetch { have: None }
        ));
        let v1 = c.fetched(0, versioned(1));
        assert!(matches!(c.next(9_999, 10_000, false), Next::Use(u) if u.version == v1.version));
        match c.next(10_000, 10_000, false) {
            Next::Fetch { have } => assert_eq!(have, Some(v1.version.clone())),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.unchanged(10_000).unwrap().version, v1.version);
        assert!(matches!(c.next(10_500, 10_000, false), Next::Use(_)));
    }

    #[test]
    fn a_refused_webhook_refreshes_early_but_at_most_once_a_second() {
        let mut c = ConfigCache::default();
        c.fetched(0, versioned(1));
        assert!(matches!(c.next(500, 10_000, true), Next::Use(_)));
        assert!(matches!(c.next(1_000, 10_000, true), Next::Fetch { .. }));
        let v2 = c.fetched(1_000, versioned(2));
        assert_eq!(v2.config.max_body_bytes, 2);
        assert!(
            matches!(c.next(1_200, 10_000, true), Next::Use(u) if u.config.max_body_bytes == 2)
        );
    }

    #[test]
    fn while_delivery_is_down_the_last_copy_is_kept_and_asked_for_per_interval() {
        let mut c = ConfigCache::default();
        // A fresh isolate with delivery down: nothing held; R2's copy restores it.
        assert!(c.failed(0).is_none());
        let restored = c.restore(versioned(7));
        assert_eq!(restored.config.max_body_bytes, 7);
        assert!(matches!(c.next(5_000, 10_000, false), Next::Use(_)));
        assert!(matches!(c.next(10_000, 10_000, false), Next::Fetch { .. }));
        assert_eq!(c.failed(10_000).unwrap().config.max_body_bytes, 7);
        assert!(matches!(c.next(15_000, 10_000, false), Next::Use(_)));
        // R2 never replaces what the isolate got from delivery itself.
        c.fetched(20_000, versioned(8));
        assert_eq!(c.restore(versioned(7)).config.max_body_bytes, 8);
    }
}
