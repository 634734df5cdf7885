//! Validation and precompilation of uploaded components, and the cache of
//! what that produced, keyed by the module's SHA-256: identical modules share
//! one artefact, and a process that restarts reloads the precompiled file from
//! `data_dir` instead of compiling again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::Engine;

use super::bindings::TransformationPre;
use super::invoke::{self, Limits, Outcome, TransformError};
use super::sandbox::{self, GuestState};
use crate::config::TransformConfig;
use crate::model::HttpRequest;

/// Why an uploaded module was refused; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    #[error("code is not a WebAssembly binary (it must start with \\0asm)")]
    NotWasm,
    #[error(
        "code is a core WebAssembly module, not a component: build it with \
         `cargo build --release --target wasm32-wasip2` (transforms-sdk)"
    )]
    CoreModule,
    #[error("code is not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "code imports capabilities Hookyard does not give transformations \
         (no network, files or other host access): {}", .0.join(", ")
    )]
    ForbiddenImports(Vec<String>),
    #[error(
        "code does not implement the hookyard:transform/transformation world \
         (export `transform: func(req: request, env: list<tuple<string, string>>) \
         -> result<request, string>`): {0}"
    )]
    WrongWorld(String),
    #[error("the transformation engine is unavailable: {0}")]
    Engine(String),
}

/// A component ready to instantiate.
pub struct Prepared {
    pub hash: String,
    pre: TransformationPre<GuestState>,
}

struct Runtime {
    engine: Engine,
    linker: Linker<GuestState>,
}

/// The transformation host: engine, linker and artefact cache.
pub struct Transforms {
    cfg: TransformConfig,
    /// Built on first use: a gateway with no transformation reserves no pool.
    runtime: OnceLock<Result<Runtime, String>>,
    cache: Mutex<HashMap<String, Arc<Prepared>>>,
    cache_dir: Option<PathBuf>,
}

/// `sha256:<hex>` of a module: its identity.
pub fn module_hash(module: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(module)))
}

/// How many prepared components stay in memory.
const CACHE_ENTRIES: usize = 256;

impl Transforms {
    /// `cache_dir`: where precompiled artefacts are kept (None: memory only).
    pub fn new(cfg: TransformConfig, cache_dir: Option<PathBuf>) -> Self {
        Transforms {
            cfg,
            runtime: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            cache_dir,
        }
    }

    pub fn config(&self) -> &TransformConfig {
        &self.cfg
    }

    fn runtime(&self) -> Result<&Runtime, UploadError> {
        self.runtime
            .get_or_init(|| {
                let engine = super::engine::build(&self.cfg).map_err(|e| format!("{e:#}"))?;
                let linker = sandbox::linker(&engine).map_err(|e| format!("{e:#}"))?;
                Ok(Runtime { engine, linker })
            })
            .as_ref()
            .map_err(|e| UploadError::Engine(e.clone()))
    }

    /// The prepared component of `module`, validating and compiling it unless it
    /// is cached. Slow (compilation) on a miss: call it off the async threads.
    pub fn prepare(&self, module: &[u8]) -> Result<Arc<Prepared>, UploadError> {
        let hash = module_hash(module);
        if let Some(p) = self.lock().get(&hash) {
            return Ok(p.clone());
        }
        let rt = self.runtime()?;
        let component = match self.load_artefact(rt, &hash) {
            Some(c) => c,
            None => {
                check_header(module)?;
                let c = Component::new(&rt.engine, module)
                    .map_err(|e| UploadError::Invalid(format!("{e:#}")))?;
                self.save_artefact(&c, &hash);
                c
            }
        };
        let forbidden = sandbox::forbidden_imports(&rt.engine, &component);
        if !forbidden.is_empty() {
            return Err(UploadError::ForbiddenImports(forbidden));
        }
        let instance_pre = rt
            .linker
            .instantiate_pre(&component)
            .map_err(|e| UploadError::ForbiddenImports(vec![format!("{e:#}")]))?;
        let pre = TransformationPre::new(instance_pre)
            .map_err(|e| UploadError::WrongWorld(format!("{e:#}")))?;
        let prepared = Arc::new(Prepared {
            hash: hash.clone(),
            pre,
        });
        let mut cache = self.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(hash, prepared.clone());
        Ok(prepared)
    }

    /// The limits of a call, from a transformation's own settings (None: the
    /// configured defaults), capped by the configured maximums.
    pub fn limits(&self, memory_bytes: Option<i64>, timeout_ms: Option<i64>) -> Limits {
        let c = &self.cfg;
        let memory = memory_bytes
            .map(|m| m.max(0) as usize)
            .unwrap_or(c.memory_limit_bytes)
            .min(c.max_memory_limit_bytes);
        let timeout = timeout_ms
            .map(|t| t.max(1) as u64)
            .unwrap_or(c.timeout_ms)
            .min(c.max_timeout_ms);
        Limits {
            memory_bytes: memory,
            deadline: Duration::from_millis(timeout),
            epoch_tick: Duration::from_millis(c.epoch_tick_ms.max(1)),
            max_output_bytes: c.max_output_bytes,
            max_log_bytes: c.max_log_bytes,
        }
    }

    /// Runs a prepared component once. Blocking: at most `limits.deadline` of CPU.
    pub fn run(
        &self,
        prepared: &Prepared,
        req: HttpRequest,
        env: &[(String, String)],
        limits: &Limits,
    ) -> Outcome {
        invoke::call(&prepared.pre, req, env, limits)
    }

    /// Prepares (cached) and runs `module`; an unusable module is an error outcome.
    pub fn run_module(
        &self,
        module: &[u8],
        req: HttpRequest,
        env: &[(String, String)],
        limits: &Limits,
    ) -> Outcome {
        match self.prepare(module) {
            Ok(p) => self.run(&p, req, env, limits),
            Err(e) => Outcome {
                result: Err(TransformError::Host(e.to_string())),
                logs: Vec::new(),
                duration: Duration::ZERO,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Prepared>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn artefact_path(&self, rt: &Runtime, hash: &str) -> Option<PathBuf> {
        // The engine's settings and wasmtime's version are part of the name, so a
        // changed configuration or upgrade never loads an incompatible artefact.
        let mut h = Sha256::new();
        rt.engine
            .precompile_compatibility_hash()
            .hash(&mut HashWriter(&mut h));
        let engine = hex::encode(&h.finalize()[..8]);
        let name = hash.trim_start_matches("sha256:");
        Some(
            self.cache_dir
                .as_ref()?
                .join(format!("{name}-{engine}.cwasm")),
        )
    }

    // The crate denies unsafe code; loading a precompiled artefact is the one place
    // that needs it (wasmtime cannot check machine code it is handed).
    #[allow(unsafe_code)]
    fn load_artefact(&self, rt: &Runtime, hash: &str) -> Option<Component> {
        let path = self.artefact_path(rt, hash)?;
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `save_artefact` of this engine
        // configuration (its name says so) into our own data directory; nothing
        // else writes there.
        match unsafe { Component::deserialize_file(&rt.engine, &path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "ignoring unusable precompiled transformation");
                None
            }
        }
    }

    fn save_artefact(&self, c: &Component, hash: &str) {
        let Ok(rt) = self.runtime() else { return };
        let Some(path) = self.artefact_path(rt, hash) else {
            return;
        };
        let saved = c.serialize().map_err(|e| e.to_string()).and_then(|bytes| {
            if let Some(dir) = path.parent() {
                crate::private_files::create_dir(dir).map_err(|e| e.to_string())?;
            }
            // Write then rename: a reader never sees half a file.
            let tmp = path.with_extension("tmp");
            crate::private_files::write(&tmp, &bytes).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &path).map_err(|e| e.to_string())
        });
        if let Err(e) = saved {
            tracing::warn!(error = %e, "cannot keep the precompiled transformation; it will be compiled again");
        }
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::hash::Hasher for HashWriter<'_> {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

use std::hash::Hash as _;

/// Refuses what is not a component before handing it to the compiler, with
/// messages that say what was uploaded instead.
fn check_header(module: &[u8]) -> Result<(), UploadError> {
    if module.len() < 8 || &module[..4] != b"\0asm" {
        return Err(UploadError::NotWasm);
    }
    // Bytes 4..8: version and layer; a core module's layer is 0, a component's 1.
    if module[6..8] == [0, 0] {
        return Err(UploadError::CoreModule);
    }
    Ok(())
}
