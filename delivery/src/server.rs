//! The HTTP server: accepts connections up to `server.max_connections` and serves
//! the router on each with the header and body read timeouts; on shutdown it stops
//! accepting and lets the requests under way finish.
//!
//! `axum::serve` would do the same minus the limits: it exposes neither hyper's
//! `header_read_timeout` nor a cap on connections, so a client that connects and
//! goes quiet would hold its connection (and whatever the handler reserved) for
//! ever.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tower::Service;
use tower_http::timeout::RequestBodyTimeout;

use crate::config::ServerConfig;
use crate::shutdown::Shutdown;
use crate::telemetry;

/// Serves `app` on `listener` until `shutdown` fires, then waits for the
/// connections still open to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cfg: &ServerConfig,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    let header_timeout = Duration::from_millis(cfg.header_read_timeout_ms);
    let body_timeout = Duration::from_millis(cfg.body_read_timeout_ms);
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        // hyper's default is ~400 KiB a connection, held by a body chunk while
        // its handler waits for room in the ingest budget.
        .max_buf_size(cfg.max_read_buffer_bytes);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();

    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            _ = shutdown.recv() => break,
        };
        // Past the cap the connection is closed at once: a client that finds
        // it closed retries (as after a restart), where one left in the
        // kernel's backlog would wait without knowing for how long.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            telemetry::connection_refused();
            tracing::debug!("connection refused: server.max_connections reached");
            drop(stream);
            continue;
        };
        let conn = Connection {
            builder: builder.clone(),
            app: RequestBodyTimeout::new(app.clone(), body_timeout),
            header_timeout,
            watcher: graceful.watcher(),
            _slot: slot,
        };
        tokio::spawn(conn.serve(stream));
    }

    // No new connections; the open ones finish what they are doing (an idle
    // kept-alive one closes at once).
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One accepted connection and what it holds while it is open.
struct Connection {
    builder: Arc<Builder<TokioExecutor>>,
    app: RequestBodyTimeout<Router>,
    header_timeout: Duration,
    watcher: Watcher,
    /// Given back when the connection (and its socket) is dropped.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        // Told when the first request's headers are in. hyper's header timer
        // only starts once the auto builder has told HTTP/1 from HTTP/2, which
        // waits for the client's first bytes: a client that connects and sends
        // nothing (or a byte or two) would otherwise never time out.
        let first_request = Arc::new(Notify::new());
        let seen = first_request.clone();
        let app = self.app;
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            seen.notify_one();
            let mut app = app.clone();
            async move {
                let resp: Result<axum::response::Response, Infallible> = app.call(req).await;
                resp
            }
        });
        // With upgrades: `hookyard listen`'s WebSocket. An upgraded connection
        // leaves the graceful watch (a shutdown does not wait for CLIs to leave).
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = self.watcher.watch(conn);
        tokio::pin!(conn);

        let first = tokio::time::timeout(self.header_timeout, first_request.notified());
        tokio::select! {
            done = &mut conn => return log_end(done),
            waited = first => if waited.is_err() {
                tracing::debug!("connection closed: no request headers within server.header_read_timeout_ms");
                return;
            },
        }
        log_end(conn.await);
    }
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(e) = result {
        // Clients that go away, time out or send garbage: theirs, not ours.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Accept errors that concern one connection (it was reset before we took it)
/// are skipped; others (out of file descriptors) are waited out, as
/// `axum::serve` does, rather than spinning on them.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
