//! Where `hookyard listen` finds its gateway and API key: flags, then the
//! environment, then the CLI's config file, then (for a gateway on this machine)
//! the key `hookyard serve` keeps in its data directory. The key never stays in
//! the process's arguments, where `ps` would show it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::args::ListenArgs;

/// The gateway `hookyard serve` starts on by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8600";
pub const KEY_ENV: &str = "HOOKYARD_API_KEY";
pub const CONFIG_ENV: &str = "HOOKYARD_CLI_CONFIG";

/// The CLI's config file (`server`, `key`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    pub server: Option<String>,
    pub key: Option<String>,
}

/// Where the key came from, to know whether it is worth saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFrom {
    /// `--key` (moved to the environment on start) or `HOOKYARD_API_KEY`.
    Given,
    ConfigFile,
    DataDir,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("--server {0:?} is not an http:// or https:// URL")]
    Server(String),
    #[error(
        "no API key: give --key, set {KEY_ENV}, or run from the folder of a local \
         `hookyard serve` (it keeps its key in hookyard-data/api_key)"
    )]
    NoKey,
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: String },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: url::Url,
    pub key: String,
    pub key_from: KeyFrom,
    pub config_file: Option<PathBuf>,
    saved: Saved,
}

/// The config file: `$HOOKYARD_CLI_CONFIG`, else `$XDG_CONFIG_HOME/hookyard/cli.toml`,
/// else `~/.config/hookyard/cli.toml`.
pub fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV) {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hookyard").join("cli.toml"))
}

fn read_saved(path: &Path) -> Result<Saved, SettingsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| SettingsError::Read {
            path: path.display().to_string(),
            error: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
        Err(e) => Err(SettingsError::Read {
            path: path.display().to_string(),
            error: e.to_string(),
        }),
    }
}

impl Settings {
    pub fn resolve(args: &ListenArgs) -> Result<Settings, SettingsError> {
        let config_file = config_path();
        let saved = match &config_file {
            Some(p) => read_saved(p)?,
            None => Saved::default(),
        };
        let server_text = args
            .server
            .clone()
            .or_else(|| saved.server.clone())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let server = url::Url::parse(server_text.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| SettingsError::Server(server_text.clone()))?;
        let same_server = saved.server.as_deref().map(|s| s.trim_end_matches('/'))
            == Some(server.as_str().trim_end_matches('/'));
        let given = std::env::var(KEY_ENV).ok().filter(|k| !k.trim().is_empty());
        let (key, key_from) = if let Some(k) = given {
            (k.trim().to_owned(), KeyFrom::Given)
        } else if let Some(k) = saved.key.clone().filter(|_| same_server) {
            (k, KeyFrom::ConfigFile)
        } else if let Some(k) = local_key(&server) {
            (k, KeyFrom::DataDir)
        } else {
            return Err(SettingsError::NoKey);
        };
        Ok(Settings {
            server,
            key,
            key_from,
            config_file,
            saved,
        })
    }

    /// After the gateway accepted the key: saves server and key when they were
    /// given and the file does not hold them yet (readable by the owner only).
    /// Says where, or why not.
    pub fn remember(&self) -> Option<String> {
        if self.key_from != KeyFrom::Given {
            return None;
        }
        let path = self.config_file.as_ref()?;
        let now = Saved {
            server: Some(self.server.as_str().trim_end_matches('/').to_owned()),
            key: Some(self.key.clone()),
        };
        if now == self.saved {
            return None;
        }
        match write_private(path, &now) {
            Ok(()) => Some(format!(
                "saved the server and API key to {} (readable by you only)",
                path.display()
            )),
            Err(e) => Some(format!("could not save {}: {e}", path.display())),
        }
    }
}

fn write_private(path: &Path, saved: &Saved) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = format!(
        "# hookyard listen: the gateway and its API key (written by the CLI).\n{}",
        toml::to_string(saved)?
    );
    crate::private_files::write(path, text.as_bytes())?;
    Ok(())
}

/// The key of a gateway on this machine started from the current folder
/// (`hookyard-data/api_key`, or `$HOOKYARD_DATA_DIR/api_key`).
fn local_key(server: &url::Url) -> Option<String> {
    let local = matches!(server.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !local {
        return None;
    }
    let dir = std::env::var_os("HOOKYARD_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("hookyard-data"));
    std::fs::read_to_string(dir.join("api_key"))
        .ok()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
}

/// If the key was given with `--key`, starts this program again with the key in
/// the environment instead, so the process's arguments (what `ps` and
/// `/proc/<pid>/cmdline` show) no longer hold it. Returns only when there was no
/// `--key`, or when starting again failed (then the key stays in the arguments
/// and a warning says so).
pub fn hide_key_from_arguments() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut kept = Vec::with_capacity(args.len());
    let mut key = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--key" {
            key = args.get(i + 1).map(|k| k.to_string_lossy().into_owned());
            i += 2;
            continue;
        }
        if let Some(k) = a.strip_prefix("--key=") {
            key = Some(k.to_owned());
            i += 1;
            continue;
        }
        if a == "--" {
            kept.extend(args[i..].iter().cloned());
            break;
        }
        kept.push(args[i].clone());
        i += 1;
    }
    let Some(key) = key else { return };
    exec_without_key(&kept, &key);
}

#[cfg(unix)]
fn exec_without_key(args: &[std::ffi::OsString], key: &str) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("warning: could not move --key out of the arguments; prefer {KEY_ENV}");
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    if let Some(argv0) = args.first() {
        cmd.arg0(argv0);
    }
    // `exec` only returns on failure.
    let e = cmd.args(&args[1..]).env(KEY_ENV, key).exec();
    eprintln!("warning: could not move --key out of the arguments ({e}); prefer {KEY_ENV}");
}

#[cfg(not(unix))]
fn exec_without_key(_args: &[std::ffi::OsString], _key: &str) {
    eprintln!("warning: --key stays visible in the process list here; prefer {KEY_ENV}");
}
