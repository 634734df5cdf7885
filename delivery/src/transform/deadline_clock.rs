//! `wasi:clocks/monotonic-clock` for transformations: the host's clock for reading
//! the time, but nothing it hands out to wait on waits past the call's deadline.
//!
//! The epoch stops a guest that runs too long, but only while it runs wasm code: a
//! guest blocked in a host call (`std::thread::sleep`, a poll on an instant an hour
//! away) runs none, and would hold its thread — a routing worker — for as long as
//! it asked. Clocks are the only thing a transformation can wait on for long (the
//! rest of what it may import is ready at once: see [`super::sandbox`]), so waking
//! every clock pollable by the deadline bounds every wait. Once woken, the guest is
//! past its deadline: the epoch stops it as soon as it runs, and
//! [`super::invoke::call`] reports a call that ends after its deadline as stopped
//! there whatever it returned.

use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::clocks::WasiClocksCtxView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::{
    Duration as WasiDuration, Host, Instant as WasiInstant,
};
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};

/// Marks the linker's monotonic clock as ours ([`HasData`] for `add_to_linker`).
pub struct DeadlineClock;

impl HasData for DeadlineClock {
    type Data<'a> = DeadlineClockView<'a>;
}

/// What the clock of one call sees: the stock clock and table, and the deadline.
pub struct DeadlineClockView<'a> {
    pub clocks: WasiClocksCtxView<'a>,
    pub deadline: Instant,
}

/// The guest asked to wait after its deadline had passed: stopped then, as the
/// epoch would stop it at its next loop (the call is reported as past its deadline).
#[derive(Debug, thiserror::Error)]
#[error("the transformation waited past its deadline")]
pub struct PastDeadline;

impl Host for DeadlineClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<WasiInstant> {
        Host::now(&mut self.clocks)
    }

    fn resolution(&mut self) -> wasmtime::Result<WasiDuration> {
        Host::resolution(&mut self.clocks)
    }

    fn subscribe_instant(&mut self, when: WasiInstant) -> wasmtime::Result<Resource<DynPollable>> {
        // An instant of this clock is nanoseconds on it, so the wait is the difference
        // (none for an instant already past).
        let now = Host::now(&mut self.clocks)?;
        self.wait(Duration::from_nanos(when.saturating_sub(now)))
    }

    fn subscribe_duration(
        &mut self,
        duration: WasiDuration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.wait(Duration::from_nanos(duration))
    }
}

impl DeadlineClockView<'_> {
    /// A pollable ready after `wait`, or at the deadline if that comes first.
    fn wait(&mut self, wait: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(PastDeadline.into());
        }
        // A wait too long for `Instant` to hold ends at the deadline like any other.
        let at = now
            .checked_add(wait)
            .map_or(self.deadline, |at| at.min(self.deadline));
        let wake = self.clocks.table.push(WakeAt(at))?;
        subscribe(self.clocks.table, wake)
    }
}

/// Ready from an instant on (never later than the call's deadline).
struct WakeAt(Instant);

#[wasmtime_wasi::async_trait]
impl Pollable for WakeAt {
    async fn ready(&mut self) {
        // wasmtime-wasi runs `poll` and `block` on a Tokio runtime (the caller's,
        // else its own), whose timer wakes this.
        tokio::time::sleep_until(tokio::time::Instant::from_std(self.0)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::ResourceTable;
    use wasmtime_wasi::clocks::WasiClocksCtx;
    use wasmtime_wasi::p2::bindings::sync::io::poll::Host as _;

    #[test]
    fn waits_end_at_the_deadline_and_none_start_after_it() {
        let (mut ctx, mut table) = (WasiClocksCtx::default(), ResourceTable::new());
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut clock = DeadlineClockView {
            clocks: WasiClocksCtxView {
                ctx: &mut ctx,
                table: &mut table,
            },
            deadline,
        };
        let hour = clock.subscribe_duration(3_600_000_000_000).unwrap();
        let never = clock.subscribe_instant(u64::MAX).unwrap();
        let soon = clock.subscribe_duration(0).unwrap();
        // The one already due is ready at once; the two far off, by the deadline.
        let ready = clock.clocks.table.poll(vec![hour, never, soon]).unwrap();
        assert_eq!(ready, vec![2]);
        let hour = clock.subscribe_duration(3_600_000_000_000).unwrap();
        let never = clock.subscribe_instant(u64::MAX).unwrap();
        let ready = clock.clocks.table.poll(vec![hour, never]).unwrap();
        assert_eq!(ready, vec![0, 1]);
        let woke = Instant::now();
        assert!(woke >= deadline, "woke {:?} early", deadline - woke);
        assert!(
            woke - deadline < Duration::from_secs(2),
            "{:?}",
            woke - deadline
        );
        let late = clock.subscribe_duration(1).unwrap_err();
        assert!(late.downcast_ref::<PastDeadline>().is_some(), "{late:#}");
    }
}
