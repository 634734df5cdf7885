//! A `hookyard serve` child process for a bench: started on a free loopback port
//! with the bench's API key and its log in a file, stopped with SIGTERM, and what
//! it costs read from `/proc` (resident set, CPU time).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::{free_port, Kill};

/// A running `hookyard serve`, killed if dropped before [`Serve::stop`].
pub struct Serve {
    child: Kill,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl Serve {
    /// Starts `bin serve` with `data` as its data directory (SQLite there, or
    /// PostgreSQL at `db`), `key` as its API key and `env` added (settings as
    /// `HOOKYARD_*` variables); its output goes to `log`.
    pub fn spawn(
        bin: &str,
        data: &Path,
        db: Option<&str>,
        key: &str,
        env: &[(&str, &str)],
        log: PathBuf,
    ) -> Result<Self> {
        let port = free_port()?;
        let out = std::fs::File::create(&log)
            .with_context(|| format!("creating the gateway's log {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env("HOOKYARD_API_KEY", key)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
        if let Some(url) = db {
            cmd.args(["--database-url", url]);
        }
        let child = Kill(cmd.spawn().with_context(|| format!("start {bin} serve"))?);
        Ok(Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Waits (up to 2 minutes) until `/healthz` answers 2xx.
    pub async fn wait_healthy(&mut self, http: &reqwest::Client) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Some(status) = self.child.0.try_wait()? {
                bail!("hookyard serve exited ({status}){}", self.log_tail());
            }
            if Instant::now() > deadline {
                bail!("hookyard serve did not start{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM, then up to 30 s for a clean exit.
    pub async fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("running kill -TERM")?;
        for _ in 0..300 {
            if self.child.0.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("hookyard serve did not stop on SIGTERM{}", self.log_tail())
    }

    /// The last 20 lines of the gateway's log, to show with an error.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("\n--- end of the gateway's log ---\n{tail}")
    }
}

/// `(VmRSS, VmHWM)` of `pid`, in MiB.
pub fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User + system CPU time of `pid` so far (all its threads).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 here).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}
