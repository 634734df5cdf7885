//! `hookyard edge config`: the Worker's source configuration, read from the store.

use super::args::EdgeConfigArgs;
use super::serve::write_private;
use crate::config::{Config, Overrides};

pub async fn run(args: EdgeConfigArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: None,
        data_dir: args.data_dir,
        database_url: args.database_url,
    };
    let cfg = Config::load(args.config.as_deref(), &overrides)?;
    let store = crate::open_store(&cfg).await?;
    let edge = crate::ingest::edge_sources::edge_config(store.as_ref(), &cfg).await?;
    let json = serde_json::to_string(&edge)?;
    match args.output {
        Some(path) => write_private(&path, &json),
        None => {
            println!("{json}");
            Ok(())
        }
    }
}
