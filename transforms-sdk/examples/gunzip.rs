//! Decompresses a gzipped body (`content-encoding: gzip`) and drops the header;
//! other bodies pass unchanged.

use std::io::Read;

use flate2::read::GzDecoder;
use hookyard_transforms_sdk::{transform, Env, Request};

#[transform]
fn run(mut req: Request, _env: &Env) -> Result<Request, String> {
    if !req
        .header("content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    {
        return Ok(req);
    }
    let mut out = Vec::new();
    GzDecoder::new(req.body.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| format!("body is not valid gzip: {e}"))?;
    println!("gunzipped {} bytes into {}", req.body.len(), out.len());
    req.body = out;
    req.remove_header("content-encoding");
    req.remove_header("content-length");
    Ok(req)
}
