//! The `hookyard` binary itself: killed mid-flight it loses no acknowledged
//! request, and `hookyard filter eval` answers per line.

use crate::common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::gateway::{eventually, Receiver};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hookyard");

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn spawn_serve(dir: &std::path::Path, port: u16) -> Child {
    spawn_serve_with(dir, port, &[])
}

/// [`spawn_serve`] with more environment (`HOOKYARD_…` settings).
pub(crate) fn spawn_serve_with(dir: &std::path::Path, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .env("HOOKYARD_API_KEY", common::gateway::KEY)
        .env("HOOKYARD_DELIVERY__POLL_INTERVAL_MS", "100")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hookyard")
}

pub(crate) async fn wait_healthy(client: &reqwest::Client, base: &str) {
    eventually("the gateway to listen", || async {
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;
}

#[tokio::test]
async fn a_kill_9_mid_flight_loses_no_acknowledged_request() {
    let dir = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let api = format!("{base}/2024-09-01");
    let client = reqwest::Client::new();
    let rx = Receiver::start().await;

    let mut child = spawn_serve(dir.path(), port);
    wait_healthy(&client, &base).await;
    let r = client
        .post(format!("{api}/connections"))
        .bearer_auth(common::gateway::KEY)
        .json(&json!({"source": {"name": "crash"}, "destination": {"name": "d", "url": rx.url}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Senders keep going while the process is killed; each records the ids it was
    // told were stored.
    let mut senders = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        let base = base.clone();
        senders.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..10_000 {
                let sent = client
                    .post(format!("{base}/e/crash"))
                    .body(format!(r#"{{"w":{worker},"i":{i}}}"#))
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status() == 200 => {
                        let v: Value = resp.json().await.unwrap();
                        acked.push(v["request_id"].as_str().unwrap().to_owned());
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap(); // SIGKILL: no shutdown hook runs.
    child.wait().unwrap();
    let mut acked = Vec::new();
    for s in senders {
        acked.extend(s.await.unwrap());
    }
    assert!(
        acked.len() > 50,
        "the load reached the gateway ({} acked)",
        acked.len()
    );

    let mut child = spawn_serve(dir.path(), port);
    wait_healthy(&client, &base).await;
    // Every acknowledged request is stored and delivered at least once.
    let delivered = eventually(
        &format!("all {} acknowledged requests delivered", acked.len()),
        || async {
            let got = rx.received();
            let ids: std::collections::HashSet<String> = got
                .iter()
                .filter_map(|r| r.header("x-hookyard-request-id"))
                .collect();
            acked.iter().all(|id| ids.contains(id)).then_some(ids.len())
        },
    )
    .await;
    assert!(delivered >= acked.len());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn filter_eval_prints_a_verdict_per_line_and_fails_on_bad_lines() {
    let run = |input: &str| {
        let mut child = Command::new(BIN)
            .args(["filter", "eval"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap())
    };
    let (ok, out) = run(concat!(
        r#"{"filter": {"amount": {"$gte": 100}}, "input": {"amount": 150}}"#,
        "\n",
        r#"{"filter": {"tags": "vip"}, "input": {"tags": ["new", "vip"]}}"#,
        "\n",
        r#"{"filter": {"type": "a"}, "input": {"type": "b"}}"#,
        "\n"
    ));
    assert!(ok);
    assert_eq!(out, "true\ntrue\nfalse\n");
    let (ok, out) = run(concat!(
        r#"{"filter": {"x": {"$nope": 1}}, "input": {}}"#,
        "\n",
        r#"{"filter": {"x": 1}, "input": {"x": 1}}"#,
        "\n"
    ));
    assert!(!ok, "an invalid filter makes the exit status non-zero");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("error: line 1:"), "{out}");
    assert!(lines[0].contains("$nope"), "{out}");
    assert_eq!(lines[1], "true");
}

/// A child that is killed when the test ends, however it ends.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_documented_environment_variables_start_serve() {
    let client = reqwest::Client::new();

    // HOOKYARD_CONFIG names the file; the file's settings are the ones in effect.
    let tmp = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let data = tmp.path().join("data");
    let file = tmp.path().join("hookyard.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n[delivery]\npoll_interval_ms = 100\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let _serving = Serving(
        Command::new(BIN)
            .arg("serve")
            .env("HOOKYARD_CONFIG", &file)
            .env_remove("HOOKYARD_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let key = std::fs::read_to_string(data.join("api_key")).unwrap();
    let r = client
        .get(format!("{base}/2024-09-01/sources"))
        .bearer_auth(key.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // HOOKYARD_LISTEN, HOOKYARD_DATA_DIR and HOOKYARD_API_KEY without any flag.
    let port = free_port();
    let _serving = Serving(
        Command::new(BIN)
            .arg("serve")
            .env("HOOKYARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HOOKYARD_DATA_DIR", tmp.path().join("other"))
            .env("HOOKYARD_API_KEY", common::gateway::KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let r = client
        .get(format!("{base}/2024-09-01/sources"))
        .bearer_auth(common::gateway::KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(tmp.path().join("other/hookyard.db").exists());
}

/// The database holds every body and credential, the data directory the API key:
/// another user of the machine reads none of them.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_are_readable_by_their_owner_only() {
    let client = reqwest::Client::new();
    let tmp = tempfile::TempDir::new().unwrap();
    let data = tmp.path().join("data");
    // An upgrade: a data directory and database left world-readable by an older
    // version are closed too.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let port = free_port();
    let _serving = Serving(
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(&data)
            .env_remove("HOOKYARD_API_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let key = std::fs::read_to_string(data.join("api_key")).unwrap();
    // A write, so that SQLite has its -wal and -shm files.
    let r = client
        .post(format!("{base}/2024-09-01/sources"))
        .bearer_auth(key.trim())
        .json(&json!({"name": "private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(mode(&data), 0o700, "data directory");
    for f in [
        "api_key",
        "hookyard.db",
        "hookyard.db-wal",
        "hookyard.db-shm",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
}
