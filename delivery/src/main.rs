//! `hookyard`: parses the command line and hands over to [`hookyard::cli`].

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    hookyard::cli::run(hookyard::cli::Cli::parse())
}
