//! Sets the path from a header, so one source fans out to per-type endpoints:
//! `x-event-type: order.created` → path `/order/created`. The env var `HEADER`
//! names another header to use, `PREFIX` is put in front of the path.

use hookyard_transforms_sdk::{transform, Env, Request};

#[transform]
fn run(mut req: Request, env: &Env) -> Result<Request, String> {
    let header = env.get("HEADER").unwrap_or("x-event-type");
    let kind = req
        .header(header)
        .ok_or_else(|| format!("header {header} is missing"))?;
    let segments: Vec<&str> = kind.split(['.', '/']).filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| {
        *s == ".."
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }) {
        return Err(format!("header {header} has an unusable value {kind:?}"));
    }
    req.path = format!("{}/{}", env.get("PREFIX").unwrap_or(""), segments.join("/"));
    Ok(req)
}
