//! Child processes of a benchmark (`hookyard serve`, `hookyard listen`,
//! moto): killed when the bench ends however it ends, on a port found free.

use std::process::Child;

/// A child process, killed and reaped when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
