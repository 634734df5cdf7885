//! Where the Worker's source configuration comes from: pinned in the
//! `HOOKYARD_SOURCES` secret (`hookyard edge config`) when that is set;
//! otherwise fetched from delivery's `/edge/config` (`config_cache` says when),
//! with the last good copy kept in R2 for an isolate that starts while delivery
//! is down.

use std::cell::RefCell;
use std::rc::Rc;

use hookyard_core::edge::{EdgeConfig, VersionedConfig};
use worker::{Date, Env};

use super::delivery::{fetch_config, ConfigAnswer};
use super::var_u32;
use crate::config_cache::{ConfigCache, Next, DEFAULT_REFRESH_SECONDS};

/// The R2 key of the last configuration delivery sent (its JSON as received).
const KEPT_KEY: &str = "config/edge.json";

thread_local! {
    /// Per isolate: the copy from delivery.
    static CACHE: RefCell<ConfigCache> = RefCell::new(ConfigCache::default());
    /// Per isolate: the pinned configuration, once read (`Some(None)`: none is
    /// pinned). A secret changes only with a new deployment, which starts new
    /// isolates, so it is read and parsed once per isolate, not per webhook.
    static PINNED: RefCell<Option<Option<Rc<EdgeConfig>>>> = const { RefCell::new(None) };
}

fn pinned(env: &Env) -> Option<Result<Rc<EdgeConfig>, String>> {
    if let Some(known) = PINNED.with_borrow(Clone::clone) {
        return known.map(Ok);
    }
    let text = env
        .secret("HOOKYARD_SOURCES")
        .map(|s| s.to_string())
        .or_else(|_| env.var("HOOKYARD_SOURCES").map(|v| v.to_string()));
    let Ok(text) = text else {
        PINNED.set(Some(None));
        return None;
    };
    // An invalid secret is not kept: every webhook answers 503 naming it.
    Some(match serde_json::from_str::<EdgeConfig>(&text) {
        Ok(c) => {
            let c = Rc::new(c);
            PINNED.set(Some(Some(c.clone())));
            Ok(c)
        }
        Err(e) => Err(format!("HOOKYARD_SOURCES is not valid: {e}")),
    })
}

/// Whether the configuration is pinned (then nothing is fetched).
pub fn is_pinned(env: &Env) -> bool {
    pinned(env).is_some()
}

/// The configuration to admit a webhook with. `early`: the copy held refused
/// it (unknown source, failed verification) and a newer one may not.
pub async fn current(env: &Env, early: bool) -> Result<Rc<EdgeConfig>, String> {
    if let Some(p) = pinned(env) {
        return p;
    }
    let now = Date::now().as_millis() as i64;
    let refresh_ms = i64::from(var_u32(
        env,
        "CONFIG_REFRESH_SECONDS",
        DEFAULT_REFRESH_SECONDS,
    )) * 1000;
    let have = match CACHE.with_borrow(|c| c.next(now, refresh_ms, early)) {
        Next::Use(c) => return Ok(c.config),
        Next::Fetch { have } => have,
    };
    match fetch_config(env, have.as_deref()).await {
        Ok(ConfigAnswer::Unchanged) => {
            if let Some(c) = CACHE.with_borrow_mut(|c| c.unchanged(now)) {
                return Ok(c.config);
            }
            Err("delivery confirmed a configuration this isolate does not hold".into())
        }
        Ok(ConfigAnswer::New { config, text }) => {
            let changed = have.as_deref() != Some(config.version.as_str());
            let c = CACHE.with_borrow_mut(|c| c.fetched(now, config));
            if changed {
                keep(env, text).await;
            }
            Ok(c.config)
        }
        Err(e) => {
            worker::console_error!("configuration not refreshed from delivery: {e}");
            if let Some(c) = CACHE.with_borrow_mut(|c| c.failed(now)) {
                return Ok(c.config);
            }
            match kept(env).await {
                Some(v) => {
                    worker::console_warn!(
                        "using the configuration kept in R2 (version {})",
                        v.version
                    );
                    Ok(CACHE.with_borrow_mut(|c| c.restore(v)).config)
                }
                None => Err(format!(
                    "no source configuration: delivery did not give one ({e}) and none is kept"
                )),
            }
        }
    }
}

/// The configuration the queue consumer sizes its pushes with: what the isolate
/// holds, without asking delivery.
pub fn held(env: &Env) -> Option<Rc<EdgeConfig>> {
    match pinned(env) {
        Some(p) => p.ok(),
        None => CACHE.with_borrow(|c| c.current()).map(|c| c.config),
    }
}

/// Keeps delivery's answer in R2 for isolates that start while delivery is down.
async fn keep(env: &Env, text: String) {
    let put = match env.bucket("BODIES") {
        Ok(b) => b.put(KEPT_KEY, text).execute().await.map(|_| ()),
        Err(e) => Err(e),
    };
    if let Err(e) = put {
        worker::console_warn!("could not keep the configuration in R2: {e}");
    }
}

async fn kept(env: &Env) -> Option<VersionedConfig> {
    let bucket = env.bucket("BODIES").ok()?;
    let obj = bucket.get(KEPT_KEY).execute().await.ok()??;
    let text = obj.body()?.text().await.ok()?;
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            worker::console_error!("the configuration kept in R2 is not valid: {e}");
            None
        }
    }
}
