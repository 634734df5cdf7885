//! The brokers the destination tests deliver to: the real services on this
//! machine (RabbitMQ, NATS, Redis) and moto (a local AWS endpoint, started per
//! test), a TCP proxy in front of them to take a broker away mid-run and bring
//! it back, and the check that a service is there (with `CI=true` a missing one
//! fails the test instead of skipping it).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Is `name` listening on 127.0.0.1:`port`? Outside CI a missing service skips
/// the test (with a message); with `CI=true` it fails it.
pub async fn require(name: &str, port: u16) -> bool {
    let up = tokio::time::timeout(
        Duration::from_secs(2),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if !up {
        let msg = format!("{name} is not listening on 127.0.0.1:{port}");
        if ci() {
            panic!("{msg}; with CI=true the {name} destination tests must run");
        }
        eprintln!("skipping: {msg}");
    }
    up
}

/// A short random suffix, so tests running at once use their own queues,
/// streams and subjects on the shared brokers.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A TCP proxy on a fixed loopback port to a broker: [`Proxy::stop`] closes the
/// port and every connection through it (the broker "goes away" for the
/// gateway), [`Proxy::start`] opens the same port again.
pub struct Proxy {
    pub port: u16,
    target: u16,
    task: Mutex<Option<JoinHandle<()>>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    frozen: Arc<std::sync::atomic::AtomicBool>,
}

/// Copies one direction; while `frozen`, what is read is dropped, and an end
/// of stream is not passed on either (a black hole sends no FIN) until thawed.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                while frozen.load(std::sync::atomic::Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                break;
            }
            Ok(n) => n,
        };
        if frozen.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Proxy {
    pub async fn to(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let p = Proxy {
            port,
            target,
            task: Mutex::new(None),
            conns: Arc::new(Mutex::new(Vec::new())),
            frozen: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        };
        p.serve(listener);
        p
    }

    /// The network goes silent: connections stay open but every byte through
    /// them is lost (as behind a dead NAT or a cut cable), until [`Proxy::thaw`].
    pub fn freeze(&self) {
        self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn thaw(&self) {
        self.frozen
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn serve(&self, listener: TcpListener) {
        let (target, conns, frozen) = (self.target, self.conns.clone(), self.frozen.clone());
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let frozen = frozen.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                        let (ir, iw) = inbound.into_split();
                        let (or, ow) = outbound.into_split();
                        // One task for both directions: aborting it cuts both.
                        tokio::join!(pipe(ir, ow, frozen.clone()), pipe(or, iw, frozen));
                    }
                });
                conns.lock().unwrap().push(conn);
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Closes the port and cuts every connection.
    pub async fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
        // The aborted listener's socket closes when its task is dropped.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// Opens the same port again.
    pub async fn start(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.port),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().unwrap().take() {
            t.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// moto in server mode: a local AWS endpoint (SQS, EventBridge) on a free port,
/// stopped when dropped.
pub struct Moto {
    pub port: u16,
    pub url: String,
    child: Child,
}

impl Moto {
    /// Starts moto, or `None` outside CI when it is not installed (with `CI=true`
    /// that fails the test).
    pub async fn start() -> Option<Moto> {
        let installed = Command::new("python3")
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            let msg = "moto is not installed (pip install 'moto[server]')";
            if ci() {
                panic!("{msg}; with CI=true the AWS destination tests must run");
            }
            eprintln!("skipping: {msg}");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let moto = Moto {
            port,
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/moto-api/", moto.url)).await {
                if r.status().is_success() {
                    return Some(moto);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not answer on port {port}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Test credentials moto accepts (any; these have the shape AWS keys have).
pub const AWS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// An SDK configuration for moto at `endpoint`.
pub async fn aws_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            AWS_KEY_ID, AWS_SECRET, None, None, "test",
        ))
        .load()
        .await
}
