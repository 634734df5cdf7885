//! The rule that a delivered URL stays under its destination's URL, whatever path
//! a provider sent or a transformation wrote: checked on the URL as built (after
//! the URL parser resolved `..`, `%2e` and `\`), not on the text it was built from.
//!
//! Ingest already refuses such paths at both doors
//! (`hookyard_core::ingest::check_forwarded_path`); this is the last check before
//! the destination's credentials go out, and it also covers requests stored before
//! that rule and paths set by transformations.

use hookyard_core::ingest::check_forwarded_path;

/// Why a built URL is not delivered to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escape {
    #[error(
        "the forwarded path {forwarded:?} leaves the destination's path {base:?} \
         (the URL built is {built}): not delivered"
    )]
    OutsidePath {
        forwarded: String,
        base: String,
        built: String,
    },
    #[error("the forwarded path {forwarded:?} changes the destination's host: not delivered")]
    OtherOrigin { forwarded: String },
    #[error("the forwarded path {forwarded:?} is refused: {why}")]
    Unsafe {
        forwarded: String,
        why: hookyard_core::ingest::UnsafePath,
    },
}

/// Checks that `built` (made from `base` and the forwarded path `forwarded`) has
/// `base`'s scheme, host and port, and a path equal to `base`'s or below it
/// (`/hooks` → `/hooks`, `/hooks/…`; never `/admin` or `/hooksX`), and that what
/// it adds to `base`'s path is free of encoded separators and dot segments a
/// destination's server could still decode and resolve.
pub fn check(base: &url::Url, built: &url::Url, forwarded: &str) -> Result<(), Escape> {
    if built.scheme() != base.scheme()
        || built.host() != base.host()
        || built.port_or_known_default() != base.port_or_known_default()
        || built.username() != base.username()
    {
        return Err(Escape::OtherOrigin {
            forwarded: forwarded.to_owned(),
        });
    }
    let base_path = base.path().trim_end_matches('/');
    let rest = match built.path().strip_prefix(base_path) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => {
            return Err(Escape::OutsidePath {
                forwarded: forwarded.to_owned(),
                base: base.path().to_owned(),
                built: built.to_string(),
            })
        }
    };
    check_forwarded_path(rest).map_err(|why| Escape::Unsafe {
        forwarded: forwarded.to_owned(),
        why,
    })
}
