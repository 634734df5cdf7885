//! A bench's own HTTP server on loopback (a sink the gateway delivers to, or a
//! local target): an axum app on 127.0.0.1, on a port the system picks, served in
//! the background until the bench ends.

use std::net::SocketAddr;

use anyhow::Context as _;

/// Serves `app` on 127.0.0.1 in the background; returns the address it listens on.
pub async fn serve(app: axum::Router) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a loopback port for the bench's server")?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
