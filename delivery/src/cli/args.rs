//! The `hookyard` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "hookyard", version, about = "An event gateway for webhooks")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: ingest (/e/<source>), routing, delivery and the API.
    Serve(ServeArgs),
    /// Work with the filter language.
    Filter {
        #[command(subcommand)]
        command: FilterCommand,
    },
    /// Operate the edge Worker (edge-ingest/, deployed with `wrangler deploy`).
    Edge {
        #[command(subcommand)]
        command: EdgeCommand,
    },
    /// Forward a gateway's events to a server on this machine, e.g.
    /// `hookyard listen 9000 shop`: events of source `shop` go to
    /// http://localhost:9000, and what it answers is recorded as the attempt.
    /// Events sent while no CLI listens wait in the gateway.
    Listen(ListenArgs),
    /// Work with transformations (WebAssembly components).
    Transform {
        #[command(subcommand)]
        command: TransformCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum EdgeCommand {
    /// Print the Worker's source configuration (every source's methods, size limit,
    /// custom response and verification secrets) as JSON, to pin it in the
    /// Worker's `HOOKYARD_SOURCES` secret: `hookyard edge config | npx wrangler
    /// secret put HOOKYARD_SOURCES`. Without that secret the Worker fetches the
    /// same configuration from `/edge/config` and follows every change; a pinned
    /// one must be put again after changing sources.
    Config(EdgeConfigArgs),
}

#[derive(Debug, clap::Args)]
pub struct EdgeConfigArgs {
    /// Directory of the SQLite database [env: HOOKYARD_DATA_DIR] [default: hookyard-data]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// postgres://… when the gateway uses PostgreSQL [env: HOOKYARD_DATABASE_URL]
    #[arg(long)]
    pub database_url: Option<String>,
    /// The gateway's TOML configuration file.
    #[arg(long, env = "HOOKYARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Write to this file (readable by its owner only: it holds secrets) instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TransformCommand {
    /// Run a component on a request; print the output, a diff and the logs.
    /// Exits non-zero when the transformation fails.
    Test(TransformTestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TransformTestArgs {
    /// The component (`.wasm`) to run.
    pub module: PathBuf,
    /// A stored request id (`req_…`, read from the gateway's database) or a JSON
    /// file `{"method", "path", "query", "headers": {…}, "body": …}`.
    #[arg(long)]
    pub request: String,
    /// Env of the transformation, `KEY=VALUE` (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Directory of the SQLite database [env: HOOKYARD_DATA_DIR]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// postgres://… [env: HOOKYARD_DATABASE_URL]
    #[arg(long)]
    pub database_url: Option<String>,
    /// A TOML configuration file (limits of transformations, database).
    #[arg(long, env = "HOOKYARD_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [env: HOOKYARD_LISTEN] [default: 127.0.0.1:8600]
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and the API key [env: HOOKYARD_DATA_DIR]
    /// [default: hookyard-data]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// postgres://… to use PostgreSQL instead of SQLite [env: HOOKYARD_DATABASE_URL]
    #[arg(long)]
    pub database_url: Option<String>,
    /// A TOML configuration file (see config.default.toml for every key).
    #[arg(long, env = "HOOKYARD_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ListenArgs {
    /// Where to send events: a port (9000), host:port, or a URL whose path
    /// prefixes every event's path.
    pub target: String,
    /// Sources to listen to (created when new). Without any, the connections
    /// the CLI destination already has.
    pub sources: Vec<String>,
    /// Path on the target (the CLI destination's `cli_path`) before the path
    /// the provider used [default: /, or the destination's].
    #[arg(long)]
    pub path: Option<String>,
    /// The gateway [env: HOOKYARD_SERVER] [default: the config file's, else
    /// http://127.0.0.1:8600].
    #[arg(long, env = "HOOKYARD_SERVER")]
    pub server: Option<String>,
    /// The gateway's API key. Prefer HOOKYARD_API_KEY or the config file: given
    /// here, the CLI moves it out of its arguments at once. Without any, the key
    /// of a local `hookyard serve` in ./hookyard-data is used.
    #[arg(long)]
    pub key: Option<String>,
    /// The CLI destination's name [default: cli-$USER]. Two CLIs with the same
    /// name and source share its events; with different names each gets all.
    #[arg(long)]
    pub name: Option<String>,
    /// `text` (one line per event, coloured on a terminal) or `json` (JSON lines).
    #[arg(long, value_enum, default_value = "text")]
    pub output: crate::cli::listen::output::Format,
}

#[derive(Debug, Subcommand)]
pub enum FilterCommand {
    /// Read JSON lines {"filter": …, "input": …} on stdin; print true/false per line.
    /// Exits non-zero if any line was invalid.
    Eval,
}
