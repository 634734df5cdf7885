//! `hookyard`: parses the command line and hands over to [`hookyard::cli`].

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    return_freed_memory_at_once();
    hookyard::cli::run(hookyard::cli::Cli::parse())
}

/// `mi_option_purge_delay` in the mimalloc this links (v3.3, `mimalloc.h`); the
/// Rust bindings predate the name. Its default, 1000 ms, is checked before it is
/// set, so a renumbered option is left alone rather than another one changed.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const MI_DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// mimalloc gives freed memory back to the OS a second after it is freed (ten
/// for its arenas). A flood of large webhooks frees hundreds of MiB of bodies
/// within that time, and the process kept them all: 200 concurrent 10 MiB
/// webhooks peaked at the budget + 180 MiB, and + 100 MiB with this
/// (BENCHMARKS.md, issue 17). `MIMALLOC_PURGE_DELAY` still sets it.
#[allow(unsafe_code)]
fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reads and sets one of mimalloc's option values (plain stores of a
    // long); valid at any time, before or after allocations.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number still names the purge delay (its default is distinctive).
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_is_where_we_set_it() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: reads an option value.
        let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(value, MI_DEFAULT_PURGE_DELAY_MS);
    }
}
