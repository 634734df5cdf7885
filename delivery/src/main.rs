//! `hookyard`: parses the command line and hands over to the library.

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use hookyard::cli::{
    Cli, Command, EdgeCommand, EdgeConfigArgs, FilterCommand, ServeArgs, TransformCommand,
};
use hookyard::config::{Config, Overrides};
use rand::distributions::{Alphanumeric, DistString};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Filter {
            command: FilterCommand::Eval,
        } => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            match hookyard::filter_eval::run(stdin, stdout) {
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
                .and_then(|rt| rt.block_on(edge_config(args)));
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
            match runtime.block_on(hookyard::transform::console::test(args)) {
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
            match runtime.block_on(serve(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hookyard: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The API key from the configuration, or the one kept in the data directory, or a
/// new one (kept there, readable by its owner only).
fn api_key(cfg: &Config) -> anyhow::Result<(String, bool)> {
    if !cfg.api_key.is_empty() {
        return Ok((cfg.api_key.clone(), false));
    }
    let path = cfg.data_dir.join("api_key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let key = existing.trim().to_owned();
        if !key.is_empty() {
            return Ok((key, false));
        }
    }
    std::fs::create_dir_all(&cfg.data_dir)?;
    let key = format!(
        "hky_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    );
    write_private(&path, &key)?;
    Ok((key, true))
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let cfg = Config::load(args.config.as_deref(), &overrides)?;
    let store = hookyard::open_store(&cfg).await?;
    let (key, generated) = api_key(&cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let db = if cfg.database_url.is_empty() {
        format!("SQLite in {}", cfg.data_dir.display())
    } else {
        "PostgreSQL".to_owned()
    };
    println!("Hookyard listening on http://{addr} ({db})");
    println!("  webhooks:  http://{addr}/e/<source-name>");
    println!("  API:       http://{addr}/{}", hookyard::api::API_VERSION);
    if generated {
        println!(
            "  API key:   {key}  (generated; kept in {})",
            cfg.data_dir.join("api_key").display()
        );
    } else if cfg.api_key.is_empty() {
        println!("  API key:   in {}", cfg.data_dir.join("api_key").display());
    }

    let (trigger, shutdown) = hookyard::shutdown::channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        trigger.trigger();
    });
    hookyard::run(cfg, store, key, listener, shutdown).await
}

async fn edge_config(args: EdgeConfigArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: None,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let cfg = Config::load(args.config.as_deref(), &overrides)?;
    let store = hookyard::open_store(&cfg).await?;
    let edge = hookyard::edge::sources::edge_config(store.as_ref(), &cfg).await?;
    let json = serde_json::to_string(&edge)?;
    match args.output {
        Some(path) => write_private(&path, &json),
        None => {
            println!("{json}");
            Ok(())
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
