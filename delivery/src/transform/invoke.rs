//! One call of a transformation: a fresh store (so no state leaks from one
//! request to the next), its memory cap, its deadline, its captured logs; every
//! way the guest can fail becomes a [`TransformError`], never a host panic.

use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

use super::bindings::hookyard::transform::types::Request as WitRequest;
use super::bindings::TransformationPre;
use super::sandbox::{GuestLimiter, GuestState};
use crate::model::HttpRequest;

impl HttpRequest {
    fn into_wit(self) -> WitRequest {
        WitRequest {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body: self.body,
        }
    }

    fn from_wit(r: WitRequest) -> Self {
        HttpRequest {
            method: r.method,
            path: r.path,
            query: r.query,
            headers: r.headers,
            body: r.body,
        }
    }

    /// Bytes the request takes (what the output limit counts).
    pub fn size(&self) -> usize {
        self.method.len()
            + self.path.len()
            + self.query.len()
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// The bounds of one call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: usize,
    pub deadline: Duration,
    pub epoch_tick: Duration,
    pub max_output_bytes: usize,
    pub max_log_bytes: usize,
}

/// Why a call produced no request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("the transformation returned an error: {0}")]
    Returned(String),
    #[error("the transformation ran past its deadline of {0} ms and was stopped")]
    Deadline(u64),
    #[error("the transformation exceeded its memory cap of {0} bytes and was stopped")]
    MemoryCap(usize),
    #[error("the transformation panicked: {0}")]
    Panic(String),
    #[error("the transformation trapped: {0}")]
    Trap(String),
    #[error("the transformation's output is {size} bytes, more than the {limit} allowed")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("the transformation could not run: {0}")]
    Host(String),
}

/// What a call produced, with its logs and how long it took.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<HttpRequest, TransformError>,
    pub logs: Vec<String>,
    pub duration: Duration,
}

/// The longest deadline any call gets, whatever its [`Limits`] say: the
/// configuration caps timeouts far below this; it keeps a hand-made `Limits` from
/// overflowing the deadline's instant or holding a thread without end.
pub const MAX_DEADLINE: Duration = Duration::from_secs(3600);

/// Runs `pre` once on `req`.
pub fn call(
    pre: &TransformationPre<GuestState>,
    req: HttpRequest,
    env: &[(String, String)],
    limits: &Limits,
) -> Outcome {
    let started = Instant::now();
    let limits = &Limits {
        deadline: limits.deadline.min(MAX_DEADLINE),
        ..*limits
    };
    let deadline = started + limits.deadline;
    let logs = MemoryOutputPipe::new(limits.max_log_bytes);
    // No env, args, preopened directories or network: the guest sees only its
    // arguments and its own stdout/stderr.
    let wasi = WasiCtxBuilder::new()
        .stdout(logs.clone())
        .stderr(logs.clone())
        .build();
    let mut store = Store::new(
        pre.engine(),
        GuestState {
            wasi,
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(limits.memory_bytes),
            deadline,
        },
    );
    store.limiter(|s| &mut s.limiter);
    // The epoch stops the guest while it runs wasm; the clock (`GuestState::deadline`)
    // while it waits in the host.
    let tick = limits.epoch_tick.as_micros().max(1);
    let ticks = limits.deadline.as_micros().div_ceil(tick).max(1) as u64;
    store.set_epoch_deadline(ticks);

    let raw = pre
        .instantiate(&mut store)
        .and_then(|t| t.call_transform(&mut store, &req.into_wit(), env));
    let ended = Instant::now();
    let logs = split_logs(&logs.contents());
    let result = if ended >= deadline {
        // Both stops are a little late: the epoch by up to a tick, and a guest woken
        // at its deadline may return (or fail because its wait was cut short) before
        // the epoch passes. Whatever it did, it did after its deadline.
        Err(TransformError::Deadline(limits.deadline.as_millis() as u64))
    } else {
        match raw {
            Ok(Ok(out)) => {
                let out = HttpRequest::from_wit(out);
                let size = out.size();
                if size > limits.max_output_bytes {
                    Err(TransformError::OutputTooLarge {
                        size,
                        limit: limits.max_output_bytes,
                    })
                } else {
                    Ok(out)
                }
            }
            Ok(Err(message)) => Err(TransformError::Returned(message)),
            Err(e) => Err(classify(&e, store.data().limiter.hit, limits, &logs)),
        }
    };
    Outcome {
        result,
        logs,
        duration: ended - started,
    }
}

fn classify(
    e: &wasmtime::Error,
    memory_hit: bool,
    limits: &Limits,
    logs: &[String],
) -> TransformError {
    if memory_hit {
        return TransformError::MemoryCap(limits.memory_bytes);
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => TransformError::Deadline(limits.deadline.as_millis() as u64),
        Some(Trap::StackOverflow) => {
            TransformError::Trap("call stack exhausted (too deep recursion?)".into())
        }
        Some(trap) => match panic_message(logs) {
            Some(m) => TransformError::Panic(m),
            None => TransformError::Trap(trap.to_string()),
        },
        None => TransformError::Host(format!("{e:#}")),
    }
}

/// The message of a Rust panic, from the lines the panic hook wrote to stderr
/// (`thread '…' panicked at FILE:LINE:COL:` then the message).
fn panic_message(logs: &[String]) -> Option<String> {
    let at = logs.iter().position(|l| l.contains("panicked at"))?;
    let location = logs[at]
        .split("panicked at ")
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches(':');
    let message = logs
        .get(at + 1)
        .map(String::as_str)
        .unwrap_or("(no message)");
    Some(format!("{message} (at {location})"))
}

fn split_logs(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
