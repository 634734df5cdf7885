//! The `hookyard` binary itself: killed mid-flight it loses no acknowledged
//! request, and `hookyard filter eval` answers per line.

use crate::common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::gateway::{eventually, Receiver};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hookyard");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_serve(dir: &std::path::Path, port: u16) -> Child {
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
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hookyard")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
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
