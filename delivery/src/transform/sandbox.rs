//! What a transformation may import, checked at upload, and the linker that
//! provides exactly that: the WASI interfaces the Rust standard library needs to
//! start and print (stdio, environment, exit, clocks, random, streams), with
//! stdout/stderr captured as logs, an empty environment and no stdin. Sockets,
//! filesystem, HTTP and anything else are refused with a message naming them.
//!
//! Nothing linked here can keep a guest waiting past its deadline: stdin is closed
//! (reads and its pollable answer at once), stdout/stderr are memory pipes (always
//! ready; full, they report closed), and the monotonic clock is
//! [`super::deadline_clock`], whose pollables are ready by the deadline. So every
//! pollable a guest can hold is ready at once or by its deadline, and `poll` (ready
//! when one of its list is) and `block` return by then too. A new import must keep
//! that true.

use std::time::Instant;

use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::deadline_clock::{DeadlineClock, DeadlineClockView};

/// Interfaces (without version) a component may import.
const ALLOWED: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "hookyard:transform/types",
];

/// The state of one call's store.
pub struct GuestState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: GuestLimiter,
    /// When the call must be over: the monotonic clock wakes no waiter later.
    pub deadline: Instant,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The imports of `component` that Hookyard does not provide (empty: fine).
pub fn forbidden_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| {
            let unversioned = name.split('@').next().unwrap_or(name);
            !ALLOWED.contains(&unversioned)
        })
        .collect()
}

/// The linker with the allowed interfaces only.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<GuestState>> {
    use wasmtime_wasi::p2::bindings::sync::io::{error, poll, streams};
    use wasmtime_wasi::p2::bindings::{cli, clocks, random};
    let mut l = Linker::new(engine);
    // wasmtime-wasi's proxy set (`add_to_linker_proxy_interfaces_sync`) one by one,
    // but for the monotonic clock: its stock one waits as long as the guest asks.
    error::add_to_linker::<GuestState, Table>(&mut l, |s| &mut s.table)?;
    poll::add_to_linker::<GuestState, Table>(&mut l, |s| &mut s.table)?;
    streams::add_to_linker::<GuestState, Table>(&mut l, |s| &mut s.table)?;
    clocks::wall_clock::add_to_linker::<GuestState, WasiClocks>(&mut l, |s| s.clocks())?;
    clocks::monotonic_clock::add_to_linker::<GuestState, DeadlineClock>(&mut l, deadline_clock)?;
    random::random::add_to_linker::<GuestState, WasiRandom>(&mut l, |s| s.wasi.random())?;
    let cli_view = <GuestState as WasiCliView>::cli;
    cli::stdin::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::stdout::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::stderr::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::exit::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::environment::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::terminal_input::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::terminal_output::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::terminal_stdin::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::terminal_stdout::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    cli::terminal_stderr::add_to_linker::<GuestState, WasiCli>(&mut l, cli_view)?;
    random::insecure::add_to_linker::<GuestState, WasiRandom>(&mut l, |t| t.wasi.random())?;
    random::insecure_seed::add_to_linker::<GuestState, WasiRandom>(&mut l, |t| t.wasi.random())?;
    Ok(l)
}

/// The resource table as `wasi:io`'s host ([`HasData`] for its `add_to_linker`).
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}

fn deadline_clock(s: &mut GuestState) -> DeadlineClockView<'_> {
    let deadline = s.deadline;
    DeadlineClockView {
        clocks: s.clocks(),
        deadline,
    }
}

/// [`StoreLimits`] that also remembers that it refused memory, so a refused
/// `memory.grow` is reported as the memory cap rather than whatever the guest's
/// allocator does next.
pub struct GuestLimiter {
    inner: StoreLimits,
    cap: usize,
    pub(super) hit: bool,
}

impl GuestLimiter {
    pub fn new(cap: usize) -> Self {
        GuestLimiter {
            inner: StoreLimitsBuilder::new().memory_size(cap).build(),
            cap,
            hit: false,
        }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.inner.memory_growing(current, desired, maximum)?;
        if !ok {
            self.hit = true;
            // Trap now: the guest would only abort a little later.
            wasmtime::bail!("memory cap of {} bytes reached", self.cap);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
