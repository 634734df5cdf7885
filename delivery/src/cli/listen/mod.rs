//! `hookyard listen`: a developer's local server gets the gateway's events over
//! one WebSocket, straight from the gateway (no relay), and what it answers is
//! recorded as the attempt.
//!
//! - [`settings`]: server and API key (flags, environment, config file).
//! - [`setup`]: the CLI destination and its connections, with the API.
//! - [`forward`]: one event to the local target.
//! - [`output`]: the terminal.
//!
//! The CLI never stops on its own while the gateway can be reached again: a lost
//! connection is a line on stderr and a reconnection with backoff, and events
//! wait in the gateway meanwhile. It exits on Ctrl-C (0), a usage mistake (2), a
//! refused key (3) or a set-up the gateway refuses (4).

pub mod forward;
pub mod output;
pub mod settings;
pub mod setup;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::cli::args::ListenArgs;
use crate::config::API_VERSION;
use crate::destinations::cli::protocol::{self, Control, EventFrame, ReplyFrame};
use forward::Target;
use output::Output;
use settings::{Settings, KEY_ENV};

/// Why a session ended other than by Ctrl-C.
#[derive(Debug)]
pub enum Failure {
    /// The gateway could not be reached, or the connection was lost: retried.
    Unreachable(String),
    /// The key was refused (401).
    Auth(String),
    /// The gateway refused the set-up (a name taken by another destination…).
    Refused(String),
    /// Someone else created the same thing at the same moment (retried).
    Conflict(String),
    /// The command cannot work as given.
    Usage(String),
    Fatal(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Unreachable(_) | Failure::Fatal(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Auth(_) => 3,
            Failure::Refused(_) | Failure::Conflict(_) => 4,
        }
    }
}

const RECONNECT_FIRST: Duration = Duration::from_millis(500);
const RECONNECT_MOST: Duration = Duration::from_secs(10);
const HANDSHAKE: Duration = Duration::from_secs(15);

struct Ctx {
    settings: Settings,
    api: setup::Api,
    target: Target,
    name: String,
    path: Option<String>,
    sources: Vec<String>,
    out: Output,
    http: reqwest::Client,
}

pub async fn run(args: ListenArgs) -> ExitCode {
    let target = match Target::parse(&args.target) {
        Ok(t) => t,
        Err(e) => return usage(&e),
    };
    if let Some(p) = &args.path {
        if !p.starts_with('/') {
            return usage(&format!("--path {p:?} must start with /"));
        }
    }
    let settings = match Settings::resolve(&args) {
        Ok(s) => s,
        Err(e) => return usage(&e.to_string()),
    };
    let name = args.name.clone().unwrap_or_else(default_name);
    if !hookyard_core::names::is_valid_name(&name) {
        return usage(&format!(
            "--name {name:?} must be 1 to 155 letters, digits, `-` or `_`"
        ));
    }
    let (api, http) = match (
        setup::Api::new(&settings.server, &settings.key),
        forward::client(),
    ) {
        (Ok(a), Ok(h)) => (a, h),
        (Err(e), _) => return fail(&e),
        (_, Err(e)) => return fail(&Failure::Fatal(e.to_string())),
    };
    let ctx = Ctx {
        out: Output::new(args.output, &settings.server),
        settings,
        api,
        target,
        name,
        path: args.path.clone(),
        sources: args.sources.clone(),
        http,
    };
    let mut delay = RECONNECT_FIRST;
    let mut connected_once = false;
    loop {
        let mut connected = false;
        match session(&ctx, &mut connected, connected_once).await {
            Ok(()) => {
                ctx.out.status("Stopped.");
                return ExitCode::SUCCESS;
            }
            Err(Failure::Unreachable(why)) => {
                if connected {
                    connected_once = true;
                    delay = RECONNECT_FIRST;
                }
                let jitter = rand::thread_rng().gen_range(0..=delay.as_millis() as u64 / 5);
                let wait = delay + Duration::from_millis(jitter);
                ctx.out.warn(&format!(
                    "Disconnected from {}: {why}. Reconnecting in {:.1} s; events wait in the gateway.",
                    ctx.settings.server.as_str().trim_end_matches('/'),
                    wait.as_secs_f64()
                ));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = interrupted() => {
                        ctx.out.status("Stopped.");
                        return ExitCode::SUCCESS;
                    }
                }
                delay = (delay * 2).min(RECONNECT_MOST);
            }
            Err(f) => return fail(&f),
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("hookyard listen: {msg}");
    ExitCode::from(2)
}

fn fail(f: &Failure) -> ExitCode {
    match f {
        Failure::Auth(m) => eprintln!(
            "hookyard listen: the gateway refused the API key ({m}). Give the gateway's key \
             with --key or {KEY_ENV}, or `cat hookyard-data/api_key` where it runs."
        ),
        Failure::Refused(m) | Failure::Conflict(m) => {
            eprintln!("hookyard listen: the gateway refused the set-up: {m}")
        }
        Failure::Usage(m) | Failure::Fatal(m) | Failure::Unreachable(m) => {
            eprintln!("hookyard listen: {m}")
        }
    }
    ExitCode::from(f.exit_code())
}

/// `cli-<user>`: each developer on a shared gateway gets their own destination
/// (and so every event of the sources they listen to).
fn default_name() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_default();
    let clean: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(100)
        .collect();
    if clean.is_empty() {
        "cli".to_owned()
    } else {
        format!("cli-{clean}")
    }
}

/// Ctrl-C, or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn client_name() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host} (hookyard {})", env!("CARGO_PKG_VERSION"))
}

/// One connection to the gateway: set-up, handshake, then events until it ends.
/// `Ok` means the user stopped it.
async fn session(ctx: &Ctx, connected: &mut bool, reconnecting: bool) -> Result<(), Failure> {
    let opened = async {
        let plan = ctx
            .api
            .prepare(&ctx.name, ctx.path.as_deref(), &ctx.sources)
            .await?;
        let ws = connect(ctx, &plan).await?;
        Ok::<_, Failure>((plan, ws))
    };
    let (plan, ws) = tokio::select! {
        r = opened => r?,
        _ = interrupted() => return Ok(()),
    };
    let (mut sink, mut stream) = ws.split();
    let heartbeat = match tokio::time::timeout(HANDSHAKE, stream.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<Control>(&t) {
            Ok(Control::Welcome { heartbeat_ms, .. }) => {
                Duration::from_millis(heartbeat_ms.max(100))
            }
            _ => {
                return Err(Failure::Unreachable(
                    "the gateway did not welcome the CLI".into(),
                ))
            }
        },
        Ok(_) => {
            return Err(Failure::Unreachable(
                "the gateway closed the connection".into(),
            ))
        }
        Err(_) => return Err(Failure::Unreachable("no welcome from the gateway".into())),
    };
    *connected = true;
    announce(ctx, &plan, reconnecting);
    let sources: HashMap<String, String> = plan
        .connections
        .iter()
        .map(|c| (c.connection_id.clone(), c.source_name.clone()))
        .collect();
    let sources = Arc::new(sources);

    let (done_tx, mut done_rx) = mpsc::channel::<(EventFrame, ReplyFrame, Vec<u8>)>(64);
    let mut in_flight = 0usize;
    let mut draining = false;
    let mut heard = Instant::now();
    let mut watchdog = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            msg = stream.next() => {
                heard = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(b))) => {
                        let (frame, body) = match protocol::decode::<EventFrame>(&b) {
                            Ok((f, body)) => (f, body.to_vec()),
                            Err(e) => {
                                ctx.out.warn(&format!("ignored a message from the gateway: {e}"));
                                continue;
                            }
                        };
                        in_flight += 1;
                        let tx = done_tx.clone();
                        let http = ctx.http.clone();
                        let target = ctx.target.clone();
                        tokio::spawn(async move {
                            let (reply, answer) = forward::forward(&http, &target, &frame, body).await;
                            let _ = tx.send((frame, reply, answer)).await;
                        });
                    }
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(Control::Notice { message }) = serde_json::from_str::<Control>(&t) {
                            ctx.out.warn(&message);
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        return Err(Failure::Unreachable("the gateway closed the connection".into()));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(Failure::Unreachable(describe(&e))),
                }
            }
            Some((frame, reply, answer)) = done_rx.recv() => {
                in_flight -= 1;
                let source = sources.get(&frame.connection_id).map(String::as_str).unwrap_or("?");
                ctx.out.event(source, &frame, &reply);
                let msg = Message::Binary(protocol::encode(&reply, &answer).into());
                if let Err(e) = sink.send(msg).await {
                    // The gateway gets no answer: the event is not attempted and
                    // comes again when the CLI is back.
                    return Err(Failure::Unreachable(describe(&e)));
                }
                if draining && in_flight == 0 {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(());
                }
            }
            _ = watchdog.tick() => {
                if heard.elapsed() > heartbeat * 3 {
                    return Err(Failure::Unreachable(format!(
                        "no heartbeat from the gateway for {} s",
                        heard.elapsed().as_secs()
                    )));
                }
            }
            _ = interrupted() => {
                if draining || in_flight == 0 {
                    let _ = sink.send(Message::Close(None)).await;
                    return Ok(());
                }
                draining = true;
                let drain = serde_json::to_string(&Control::Drain).unwrap_or_default();
                let _ = sink.send(Message::Text(drain.into())).await;
                ctx.out.status(&format!(
                    "Leaving: finishing {in_flight} delivery(ies) in flight (Ctrl-C again to quit now)."
                ));
            }
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(ctx: &Ctx, plan: &setup::Plan) -> Result<Socket, Failure> {
    let server = &ctx.settings.server;
    let scheme = if server.scheme() == "https" {
        "wss"
    } else {
        "ws"
    };
    let mut url = server.clone();
    let _ = url.set_scheme(scheme);
    let ids: Vec<&str> = plan
        .connections
        .iter()
        .map(|c| c.connection_id.as_str())
        .collect();
    let path = format!(
        "{}/{API_VERSION}{}",
        url.path().trim_end_matches('/'),
        protocol::PATH
    );
    url.set_path(&path);
    url.query_pairs_mut()
        .append_pair("destination_id", &plan.destination_id)
        .append_pair("connection_ids", &ids.join(","))
        .append_pair("client", &client_name());
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(|e| Failure::Fatal(format!("invalid server URL: {e}")))?;
    let auth = format!("Bearer {}", ctx.settings.key)
        .parse()
        .map_err(|_| Failure::Usage("the API key contains characters a header cannot".into()))?;
    req.headers_mut().insert("authorization", auth);
    // Events are as large as the gateway accepts; it bounds them, not us.
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let connected = tokio::time::timeout(
        HANDSHAKE,
        tokio_tungstenite::connect_async_with_config(req, Some(config), true),
    )
    .await
    .map_err(|_| Failure::Unreachable("the WebSocket handshake timed out".into()))?;
    match connected {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(resp)) => {
            let status = resp.status();
            let body = resp
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or(body);
            match status.as_u16() {
                401 => Err(Failure::Auth(message)),
                400..=499 => Err(Failure::Refused(format!("{status}: {message}"))),
                _ => Err(Failure::Unreachable(format!("{status}: {message}"))),
            }
        }
        Err(e) => Err(Failure::Unreachable(describe(&e))),
    }
}

fn describe(e: &tungstenite::Error) -> String {
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::Io(io) => io.to_string(),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "the connection was cut (the gateway stopped or the network failed)".to_owned()
        }
        other => other.to_string(),
    }
}

/// The lines that say what is listened to, once per connection.
fn announce(ctx: &Ctx, plan: &setup::Plan, reconnecting: bool) {
    let server = ctx.settings.server.as_str().trim_end_matches('/');
    if reconnecting {
        ctx.out.status(&format!("Reconnected to {server}."));
        return;
    }
    if let Some(note) = ctx.settings.remember() {
        ctx.out.status(&note);
    }
    if plan.enabled_again {
        ctx.out.warn(&format!(
            "Destination {} was disabled; enabled it again.",
            plan.destination_name
        ));
    }
    let names: Vec<&str> = plan
        .connections
        .iter()
        .map(|c| c.source_name.as_str())
        .collect();
    ctx.out.status(&format!(
        "Connected to {server}. Forwarding events of {} to {}{} (destination {}).",
        names.join(", "),
        ctx.target,
        if plan.cli_path == "/" {
            ""
        } else {
            &plan.cli_path
        },
        plan.destination_name
    ));
    for c in &plan.connections {
        ctx.out.status(&format!(
            "  {}: send webhooks to {server}/e/{}",
            c.source_name, c.source_name
        ));
        if let Some(state) = c.inactive {
            ctx.out.warn(&format!(
                "  connection {} of {} is {state}: its events wait until it is resumed",
                plan.destination_name, c.source_name
            ));
        }
    }
}
