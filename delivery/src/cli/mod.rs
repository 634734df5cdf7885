//! The `hookyard` command line: every command lives here, `main` only parses
//! the arguments and hands them to [`run`].
//!
//! - [`args`]: the commands and their flags (clap).
//! - [`serve`]: `hookyard serve`, the gateway.
//! - [`edge_config`]: `hookyard edge config`, the Worker's source configuration.
//! - [`transform_test`]: `hookyard transform test`.
//! - [`filter_eval`]: `hookyard filter eval`.
//! - [`listen`]: `hookyard listen`, a gateway's events to a local server.

pub mod args;
pub mod edge_config;
pub mod filter_eval;
pub mod listen;
pub mod serve;
pub mod transform_test;

use std::process::ExitCode;

pub use args::*;

/// Runs one command; what the process exits with.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Filter {
            command: FilterCommand::Eval,
        } => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            match filter_eval::run(stdin, stdout) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("hookyard filter eval: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Edge {
            command: EdgeCommand::Config(args),
        } => {
            let result = tokio::runtime::Runtime::new()
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(edge_config::run(args)));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hookyard edge config: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Transform {
            command: TransformCommand::Test(args),
        } => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("hookyard: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(transform_test::test(args)) {
                Ok(report) => {
                    print!("{}", report.text);
                    if report.ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("hookyard transform test: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Listen(args) => {
            listen::settings::hide_key_from_arguments();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("hookyard: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(listen::run(args))
        }
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info,sqlx=warn".into()),
                )
                .init();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("hookyard: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hookyard: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
