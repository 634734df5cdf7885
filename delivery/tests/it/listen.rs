//! `hookyard listen` with real processes: `hookyard serve`, one or more `hookyard
//! listen`, and a local HTTP target; webhooks sent over HTTP as a provider would.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::gateway::{eventually, Gateway, Receiver, Reply, KEY};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_hookyard");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn kill_9(&mut self) {
        self.0.kill().unwrap(); // SIGKILL
        self.0.wait().unwrap();
    }
}

/// `hookyard serve` on `port` with its data in `dir`.
struct Serve {
    dir: PathBuf,
    port: u16,
    base: String,
    proc: Option<Proc>,
    http: reqwest::Client,
    envs: Vec<(String, String)>,
}

impl Serve {
    async fn start(dir: &Path) -> Serve {
        Self::start_with(dir, &[]).await
    }

    async fn start_with(dir: &Path, envs: &[(&str, &str)]) -> Serve {
        let mut s = Serve {
            dir: dir.to_owned(),
            port: free_port(),
            base: String::new(),
            proc: None,
            http: reqwest::Client::new(),
            envs: envs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        s.base = format!("http://127.0.0.1:{}", s.port);
        s.restart().await;
        s
    }

    /// Starts the process (again, on the same port and data).
    async fn restart(&mut self) {
        let child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", self.port),
                "--data-dir",
            ])
            .arg(&self.dir)
            .env("HOOKYARD_API_KEY", KEY)
            .env("HOOKYARD_DELIVERY__POLL_INTERVAL_MS", "100")
            // A failed attempt fails the event at once (retries are asked for).
            .env("HOOKYARD_DELIVERY__DEFAULT_RETRY__COUNT", "0")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hookyard serve");
        self.proc = Some(Proc(child));
        let (http, base) = (self.http.clone(), self.base.clone());
        eventually("the gateway to listen", || async {
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
    }

    fn kill_9(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            p.kill_9();
        }
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/2024-09-01{path}", self.base))
            .bearer_auth(KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, v) = self.api(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// A webhook to `/e/<rest>`; the gateway must take it.
    async fn webhook(
        &self,
        method: &str,
        rest: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> String {
        let mut req = self.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}/e/{rest}", self.base),
        );
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.body(body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        v["request_id"].as_str().unwrap().to_owned()
    }

    /// The events of a request, once it has been routed.
    async fn event_of(&self, request_id: &str) -> Value {
        eventually("the request to be routed", || async {
            let v = self.get(&format!("/events?request_id={request_id}")).await;
            v["models"].as_array().and_then(|m| m.first()).cloned()
        })
        .await
    }

    async fn wait_status(&self, event_id: &str, status: &str) -> Value {
        eventually(&format!("event {event_id} to be {status}"), || async {
            let e = self.get(&format!("/events/{event_id}")).await;
            (e["status"] == status).then_some(e)
        })
        .await
    }

    async fn attempts(&self, event_id: &str) -> Vec<Value> {
        let v = self
            .get(&format!(
                "/attempts?event_id={event_id}&order_by=created_at&dir=asc"
            ))
            .await;
        v["models"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `n` CLI sessions are connected.
    async fn wait_sessions(&self, n: usize) -> Vec<Value> {
        eventually(&format!("{n} CLI session(s)"), || async {
            let v = self.get("/cli/sessions").await;
            let all = v.as_array().cloned().unwrap_or_default();
            (all.len() == n).then_some(all)
        })
        .await
    }
}

/// `hookyard listen` with its output in files, its config file in `home`.
struct Listen {
    proc: Proc,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Listen {
    fn start(serve: &Serve, home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Listen {
        Self::start_in(serve, home, home, args, envs)
    }

    /// [`Listen::start`] with `cwd` as the working directory.
    fn start_in(
        serve: &Serve,
        home: &Path,
        cwd: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Listen {
        let n = std::fs::read_dir(home).map(|d| d.count()).unwrap_or(0);
        let stdout = home.join(format!("listen-{n}.out"));
        let stderr = home.join(format!("listen-{n}.err"));
        let mut cmd = Command::new(BIN);
        cmd.arg("listen").args(args);
        if !args.contains(&"--server") {
            cmd.args(["--server", &serve.base]);
        }
        cmd.env_remove("HOOKYARD_API_KEY")
            .env("HOOKYARD_CLI_CONFIG", home.join("cli.toml"))
            .env("USER", "dev")
            .current_dir(cwd)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Listen {
            proc: Proc(cmd.spawn().expect("start hookyard listen")),
            stdout,
            stderr,
        }
    }

    fn out(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The JSON lines printed so far (`--output json`).
    fn events(&self) -> Vec<Value> {
        self.out()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect()
    }

    async fn exit_code(&mut self) -> i32 {
        for _ in 0..400 {
            if let Some(s) = self.proc.0.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("hookyard listen did not exit; stderr: {}", self.err());
    }
}

fn port_of(r: &Receiver) -> String {
    r.url.rsplit(':').next().unwrap().to_owned()
}

fn key_env() -> [(&'static str, &'static str); 1] {
    [("HOOKYARD_API_KEY", KEY)]
}

#[tokio::test]
async fn events_reach_the_local_target_byte_exact_and_its_answer_is_the_attempt() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start(tmp.path()).await;
    let mut answer = Reply::status(201);
    answer.body = "made it".into();
    let target = Receiver::scripted(vec![answer]).await;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let cli = Listen::start(
        &serve,
        &home,
        &[
            &port_of(&target),
            "shop",
            "--path",
            "/hooks",
            "--output",
            "json",
        ],
        &key_env(),
    );
    serve.wait_sessions(1).await;

    // A JSON webhook on a sub-path with a query and repeated headers.
    let json_body = br#"{"id": 1, "note": "caf\u00e9 \r\n"}"#.to_vec();
    let r1 = serve
        .webhook(
            "POST",
            "shop/orders/1?x=1&y=a%20b",
            &[
                ("content-type", "application/json"),
                ("x-shopify-topic", "orders/create"),
                ("x-dup", "a"),
                ("x-dup", "b"),
            ],
            json_body.clone(),
        )
        .await;
    // The scripted 201 is for this one.
    target.wait_for(1).await;
    // Every byte value, with another method.
    let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let r2 = serve
        .webhook(
            "PUT",
            "shop",
            &[("content-type", "application/octet-stream")],
            binary.clone(),
        )
        .await;
    // 5 MiB.
    let big: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let r3 = serve
        .webhook(
            "POST",
            "shop/big",
            &[("content-type", "application/octet-stream")],
            big.clone(),
        )
        .await;

    let got = target.wait_for(3).await;
    let by_uri = |uri: &str| {
        got.iter()
            .find(|r| r.uri == uri)
            .unwrap_or_else(|| panic!("{uri} in {got:?}"))
    };
    let first = by_uri("/hooks/orders/1?x=1&y=a%20b");
    assert_eq!(first.method, "POST");
    assert_eq!(first.body.as_ref(), &json_body[..]);
    assert_eq!(
        first.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        first.header("x-shopify-topic").as_deref(),
        Some("orders/create")
    );
    let dups: Vec<_> = first
        .headers
        .get_all("x-dup")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(dups, ["a", "b"], "repeated headers keep their order");
    let second = by_uri("/hooks");
    assert_eq!(second.method, "PUT");
    assert_eq!(second.body.as_ref(), &binary[..]);
    let third = by_uri("/hooks/big");
    assert_eq!(third.body.len(), big.len());
    assert!(
        third.body.as_ref() == &big[..],
        "the 5 MiB body arrives byte-exact"
    );

    // Each delivery is an attempt with the local answer.
    let e1 = serve.event_of(&r1).await;
    let e1 = serve
        .wait_status(e1["id"].as_str().unwrap(), "SUCCESSFUL")
        .await;
    assert_eq!(
        first.header("x-hookyard-event-id").as_deref(),
        e1["id"].as_str()
    );
    assert_eq!(
        first.header("idempotency-key").as_deref(),
        e1["id"].as_str()
    );
    let a = serve.attempts(e1["id"].as_str().unwrap()).await;
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["response_status"], 201);
    assert_eq!(a[0]["body"], "made it");
    assert_eq!(
        a[0]["requested_url"],
        format!(
            "http://localhost:{}/hooks/orders/1?x=1&y=a%20b",
            port_of(&target)
        )
    );
    for r in [&r2, &r3] {
        let e = serve.event_of(r).await;
        serve
            .wait_status(e["id"].as_str().unwrap(), "SUCCESSFUL")
            .await;
    }

    // The CLI printed one JSON line per event.
    let lines = eventually("three lines from the CLI", || async {
        let l = cli.events();
        (l.len() == 3).then_some(l)
    })
    .await;
    let line = lines
        .iter()
        .find(|l| l["event_id"] == e1["id"])
        .expect("a line for the first event");
    assert_eq!(line["source"], "shop");
    assert_eq!(line["status"], 201);
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/hooks/orders/1?x=1&y=a%20b");
    assert!(line["dashboard_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/#/events/{}", e1["id"].as_str().unwrap())));

    // The destination is Hookdeck's CLI destination, with its path.
    let d = serve.get("/destinations?name=cli-dev").await;
    assert_eq!(d["models"][0]["type"], "CLI");
    assert_eq!(d["models"][0]["cli_path"], "/hooks");
    assert!(d["models"][0]["url"].is_null());
    assert!(!cli.err().contains(KEY), "the key is never printed");
}

#[tokio::test]
async fn a_target_that_is_down_fails_the_event_and_a_retry_delivers_it_once_it_is_up() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start(tmp.path()).await;
    let port = free_port(); // nothing listens here yet
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let cli = Listen::start(&serve, &home, &[&port.to_string(), "shop"], &key_env());
    serve.wait_sessions(1).await;

    let r = serve
        .webhook("POST", "shop", &[], b"{\"n\":1}".to_vec())
        .await;
    let e = serve.event_of(&r).await;
    let id = e["id"].as_str().unwrap().to_owned();
    serve.wait_status(&id, "FAILED").await;
    let a = serve.attempts(&id).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["error_code"], "CONNECTION_REFUSED", "{}", a[0]);
    assert!(a[0]["response_status"].is_null());
    assert!(cli.out().contains("CONNECTION_REFUSED"), "{}", cli.out());

    let target = Receiver::on_port(port).await;
    let (status, v) = serve
        .api(reqwest::Method::POST, &format!("/events/{id}/retry"), None)
        .await;
    assert_eq!(status, 200, "{v}");
    serve.wait_status(&id, "SUCCESSFUL").await;
    assert_eq!(target.wait_for(1).await[0].body.as_ref(), b"{\"n\":1}");
    let a = serve.attempts(&id).await;
    assert_eq!(a.len(), 2);
    assert_eq!(a[1]["response_status"], 200);
    assert_eq!(a[1]["trigger"], "MANUAL");
}

#[tokio::test]
async fn a_destination_disabled_under_a_listening_cli_is_said_not_silent() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start_with(
        tmp.path(),
        &[("HOOKYARD_DELIVERY__CLI_HEARTBEAT_MS", "200")],
    )
    .await;
    let port = free_port(); // the local server is down
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let cli = Listen::start(&serve, &home, &[&port.to_string(), "shop"], &key_env());
    let sessions = serve.wait_sessions(1).await;
    let id = sessions[0]["destination_id"].as_str().unwrap().to_owned();
    let (status, v) = serve
        .api(
            reqwest::Method::PUT,
            &format!("/destinations/{id}"),
            Some(json!({"auto_disable_after": 1})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    serve.webhook("POST", "shop", &[], b"{}".to_vec()).await;
    eventually("the CLI to say its destination was disabled", || async {
        cli.err().contains("was disabled").then_some(())
    })
    .await;
    assert!(cli.err().contains("events are held"), "{}", cli.err());
    let (status, v) = serve
        .api(
            reqwest::Method::PUT,
            &format!("/destinations/{id}/enable"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    eventually("the CLI to say it is enabled again", || async {
        cli.err().contains("enabled again").then_some(())
    })
    .await;
}

#[tokio::test]
async fn events_wait_while_no_cli_listens_and_a_kill_9_of_the_cli_loses_none() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start(tmp.path()).await;
    let target = Receiver::start().await;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let args = [port_of(&target), "shop".to_owned()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cli = Listen::start(&serve, &home, &args, &key_env());
    serve.wait_sessions(1).await;
    serve.webhook("POST", "shop", &[], b"first".to_vec()).await;
    target.wait_for(1).await;

    cli.proc.kill_9();
    serve.wait_sessions(0).await;
    let mut requests = Vec::new();
    for n in 0..20 {
        requests.push(
            serve
                .webhook("POST", "shop", &[], format!("{{\"n\":{n}}}").into_bytes())
                .await,
        );
    }
    // They wait: not attempted, not failed.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut waiting = Vec::new();
    for r in &requests {
        let e = serve.event_of(r).await;
        assert_eq!(e["status"], "QUEUED", "{e}");
        assert_eq!(e["attempts"], 0, "{e}");
        waiting.push(e["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(target.received().len(), 1);

    let _again = Listen::start(&serve, &home, &args, &key_env());
    let got = target.wait_for(21).await;
    let mut bodies: Vec<String> = got[1..]
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    bodies.sort();
    let mut want: Vec<String> = (0..20).map(|n| format!("{{\"n\":{n}}}")).collect();
    want.sort();
    assert_eq!(bodies, want, "all 20 arrive, once each");
    for id in &waiting {
        serve.wait_status(id, "SUCCESSFUL").await;
        assert_eq!(
            serve.attempts(id).await.len(),
            1,
            "one attempt each: waiting was not an attempt"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(target.received().len(), 21, "nothing delivered twice");
}

#[tokio::test]
async fn the_cli_reconnects_by_itself_when_the_gateway_restarts() {
    let tmp = tempfile::TempDir::new().unwrap();
    let mut serve = Serve::start(tmp.path()).await;
    let target = Receiver::start().await;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let cli = Listen::start(&serve, &home, &[&port_of(&target), "shop"], &key_env());
    serve.wait_sessions(1).await;
    serve.webhook("POST", "shop", &[], b"before".to_vec()).await;
    target.wait_for(1).await;

    serve.kill_9();
    tokio::time::sleep(Duration::from_millis(700)).await;
    serve.restart().await;
    serve.wait_sessions(1).await;
    serve.webhook("POST", "shop", &[], b"after".to_vec()).await;
    let got = target.wait_for(2).await;
    assert_eq!(got[1].body.as_ref(), b"after");
    let err = cli.err();
    assert!(err.contains("Disconnected from"), "{err}");
    assert!(err.contains("Reconnected"), "{err}");
}

#[tokio::test]
async fn a_network_gone_silent_is_noticed_on_both_sides_and_the_cli_comes_back() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start_with(
        tmp.path(),
        &[("HOOKYARD_DELIVERY__CLI_HEARTBEAT_MS", "200")],
    )
    .await;
    let proxy = common::brokers::Proxy::to(serve.port).await;
    let via_proxy = format!("http://127.0.0.1:{}", proxy.port);
    let target = Receiver::start().await;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let cli = Listen::start(
        &serve,
        &home,
        &[&port_of(&target), "shop", "--server", &via_proxy],
        &key_env(),
    );
    let first = serve.wait_sessions(1).await;
    serve.webhook("POST", "shop", &[], b"before".to_vec()).await;
    target.wait_for(1).await;

    // No FIN, no RST: bytes just stop arriving. Both sides must notice on their own.
    proxy.freeze();
    eventually("the CLI to notice", || async {
        cli.err()
            .contains("no heartbeat from the gateway")
            .then_some(())
    })
    .await;
    proxy.thaw();
    let now = eventually("a new session instead of the silent one", || async {
        let s = serve.wait_sessions(1).await;
        (s[0]["id"] != first[0]["id"]).then_some(s)
    })
    .await;
    assert_eq!(now.len(), 1, "the gateway dropped the silent session");
    serve.webhook("POST", "shop", &[], b"after".to_vec()).await;
    let got = target.wait_for(2).await;
    assert_eq!(got[1].body.as_ref(), b"after");
    assert!(cli.err().contains("Reconnected"), "{}", cli.err());
}

#[tokio::test]
async fn two_clis_on_two_sources_each_get_their_own_and_two_on_one_source_share_it() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start(tmp.path()).await;
    let (ta, tb, tc) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let _a = Listen::start(&serve, &home, &[&port_of(&ta), "alpha"], &key_env());
    let _b = Listen::start(&serve, &home, &[&port_of(&tb), "beta"], &key_env());
    serve.wait_sessions(2).await;
    for n in 0..5 {
        serve
            .webhook("POST", "alpha", &[], format!("a{n}").into_bytes())
            .await;
        serve
            .webhook("POST", "beta", &[], format!("b{n}").into_bytes())
            .await;
    }
    let got_a = ta.wait_for(5).await;
    let got_b = tb.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        got_a.iter().all(|r| r.body.starts_with(b"a")),
        "alpha's CLI gets only alpha's"
    );
    assert!(
        got_b.iter().all(|r| r.body.starts_with(b"b")),
        "beta's CLI gets only beta's"
    );
    assert_eq!((ta.received().len(), tb.received().len()), (5, 5));

    // A second CLI on alpha with the same name shares alpha's events: each once.
    let _c = Listen::start(&serve, &home, &[&port_of(&tc), "alpha"], &key_env());
    serve.wait_sessions(3).await;
    for n in 0..20 {
        serve
            .webhook("POST", "alpha", &[], format!("s{n}").into_bytes())
            .await;
    }
    eventually("20 shared events", || async {
        let shared = ta.received().len() - 5 + tc.received().len();
        (shared >= 20).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all: Vec<String> = ta.received()[5..]
        .iter()
        .chain(tc.received().iter())
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20);
    assert_eq!(
        ta.received().len() - 5 + tc.received().len(),
        20,
        "none twice"
    );
    assert_eq!(tb.received().len(), 5);
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error_and_the_right_one_never_shows_in_the_process_list() {
    let tmp = tempfile::TempDir::new().unwrap();
    let serve = Serve::start(tmp.path()).await;
    let target = Receiver::start().await;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();

    let mut wrong = Listen::start(
        &serve,
        &home,
        &[&port_of(&target), "shop", "--key", "not-the-key"],
        &[],
    );
    assert_eq!(wrong.exit_code().await, 3);
    let err = wrong.err();
    assert!(err.contains("refused the API key"), "{err}");
    assert!(!err.contains("not-the-key"), "{err}");
    assert!(
        !home.join("cli.toml").exists(),
        "a refused key is not saved"
    );

    // The right key with --key: moved out of the arguments, then saved.
    let mut cli = Listen::start(
        &serve,
        &home,
        &[&port_of(&target), "shop", "--key", KEY],
        &[],
    );
    serve.wait_sessions(1).await;
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", cli.proc.pid())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(cmdline.contains("listen"), "{cmdline}");
    assert!(
        !cmdline.contains(KEY),
        "the key shows in the process list: {cmdline}"
    );
    let saved = home.join("cli.toml");
    let text = eventually("the config file", || async {
        std::fs::read_to_string(&saved).ok()
    })
    .await;
    assert!(text.contains(KEY) && text.contains(&serve.base), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Ctrl-C leaves cleanly.
    let status = Command::new("kill")
        .args(["-INT", &cli.proc.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(cli.exit_code().await, 0);
    serve.wait_sessions(0).await;

    // Next time, the saved key is used.
    let _next = Listen::start(&serve, &home, &[&port_of(&target), "shop"], &[]);
    serve.wait_sessions(1).await;
    serve.webhook("POST", "shop", &[], b"x".to_vec()).await;
    target.wait_for(1).await;

    // Next to a local gateway's data directory, its key is found there.
    drop(_next);
    serve.wait_sessions(0).await;
    let (home2, work) = (tmp.path().join("home2"), tmp.path().join("work"));
    std::fs::create_dir(&home2).unwrap();
    std::fs::create_dir_all(work.join("hookyard-data")).unwrap();
    std::fs::write(work.join("hookyard-data/api_key"), format!("{KEY}\n")).unwrap();
    let _local = Listen::start_in(&serve, &home2, &work, &[&port_of(&target), "shop"], &[]);
    serve.wait_sessions(1).await;
    assert!(
        !home2.join("cli.toml").exists(),
        "a key read from the data directory is not copied"
    );
    let mut lost = Listen::start_in(&serve, &home2, &home2, &[&port_of(&target), "shop"], &[]);
    assert_eq!(lost.exit_code().await, 2, "no key anywhere");
    assert!(lost.err().contains("no API key"), "{}", lost.err());

    // A usage mistake is exit code 2.
    let mut bad = Listen::start(&serve, &home, &["ftp://nope", "shop"], &key_env());
    assert_eq!(bad.exit_code().await, 2);
    assert!(bad.err().contains("http:// or https://"), "{}", bad.err());
}

#[tokio::test]
async fn cli_destinations_are_checked_like_any_other() {
    let gw = Gateway::start().await;
    // Hookdeck's shape: a cli_path and no url is a CLI destination.
    let d = gw
        .post(
            "/destinations",
            json!({"name": "dev", "cli_path": "/webhooks"}),
        )
        .await;
    assert_eq!(d["type"], "CLI", "{d}");
    assert_eq!(d["cli_path"], "/webhooks");
    let d2 = gw
        .post("/destinations", json!({"name": "dev2", "type": "CLI"}))
        .await;
    assert_eq!(d2["cli_path"], "/");
    for (body, field) in [
        (
            json!({"name": "x", "type": "CLI", "url": "http://127.0.0.1:1"}),
            "url",
        ),
        (
            json!({"name": "x", "url": "http://127.0.0.1:1", "cli_path": "/a"}),
            "cli_path",
        ),
        (
            json!({"name": "x", "type": "CLI", "cli_path": "hooks"}),
            "cli_path",
        ),
        (
            json!({"name": "x", "type": "CLI", "cli_path": "/a b"}),
            "cli_path",
        ),
        (
            json!({"name": "x", "type": "CLI", "auth_method": {"type": "OAUTH2_CLIENT_CREDENTIALS",
            "config": {"auth_server": "http://127.0.0.1:1/t", "client_id": "a", "client_secret": "b"}}}),
            "auth_method",
        ),
    ] {
        let (status, v) = gw
            .call(reqwest::Method::POST, "/destinations", Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().starts_with(field),
            "{body}: {v}"
        );
    }
    // The WebSocket refuses what does not fit, with the API's errors.
    let http = gw
        .post(
            "/destinations",
            json!({"name": "web", "url": "http://127.0.0.1:9/x"}),
        )
        .await;
    let c = gw
        .post(
            "/connections",
            json!({"name": "c", "source": {"name": "s"}, "destination_id": http["id"]}),
        )
        .await;
    let listen = |dest: &Value, conn: &Value| {
        format!(
            "/cli/listen?destination_id={}&connection_ids={}",
            dest["id"].as_str().unwrap(),
            conn["id"].as_str().unwrap()
        )
    };
    let upgrade = |path: String| {
        let gw = &gw;
        async move {
            let resp = reqwest::Client::new()
                .get(format!("{}{path}", gw.api))
                .bearer_auth(KEY)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let (status, text) = upgrade(listen(&http, &c)).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("needs a CLI destination"), "{text}");
    let (status, text) = upgrade(listen(&d, &c)).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("goes to another destination"), "{text}");
    let resp = reqwest::Client::new()
        .get(format!("{}{}", gw.api, listen(&d, &c)))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}
