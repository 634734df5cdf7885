//! Admission of a webhook: the one set of rules both front doors apply, the edge
//! Worker (`edge-ingest`) and the local edge of `hookyard serve` (`/e/{source}`).
//! The doors only look the source up, read the body, and translate.
//!
//! In order:
//!
//! 1. **Path** ([`split_ingest_path`]): `/e/{source}[/rest]` gives the source name
//!    and the forwarded path, kept percent-encoded exactly as sent and always
//!    starting with `/`. No source name → 404. The forwarded path is appended to
//!    the destination's URL, so one that could climb out of the destination's path
//!    is refused with 400: it is percent-decoded repeatedly until it stops changing
//!    (at most 8 rounds, more is refused), and no stage may contain a `\`, a
//!    control byte (NUL, newline, …) or a `.` / `..` segment when split on `/`. That
//!    one rule covers raw and encoded dots (`%2e`, `.%2E`, `%252e`), backslashes
//!    (`%5c`, `%255C`) and encoded slashes next to dots (`..%2f`).
//! 2. **Source**: unknown → 404 ([`Refusal::UnknownSource`]).
//! 3. **Before the body is read** ([`AdmissionRules::admit_before_body`]):
//!    disabled → the gateway's `disabled_source_status` (403 by default); a method
//!    the source does not allow → 405; a `Content-Length` over the limit → 413.
//! 4. **After** ([`AdmissionRules::admit_body`]): the actual size → 413, then the
//!    provider signature (`crate::verify`) → 401.
//!
//! **A refused webhook is answered and nothing else, at both doors: it is neither
//! queued nor stored.** That includes a disabled source: it takes no requests
//! (disabling a source is how an operator stops ingest), the provider hears the
//! refusal and keeps the webhook to retry, and the Worker could not record it
//! anyway without queueing a request it did not verify. (`SOURCE_DISABLED` is still
//! stored for a webhook the Worker had already accepted when delivery learnt the
//! source was disabled: that one was answered 200 and must not be lost.)
//!
//! - [`path`]: the split and the path rule.
//! - [`admission`]: [`AdmissionRules`], the view of a source both doors build.
//! - [`refusal`]: [`Refusal`], its status and its JSON body.

pub mod admission;
pub mod path;
pub mod refusal;

pub use admission::AdmissionRules;
pub use path::{check_forwarded_path, split_ingest_path, IngestPath, UnsafePath};
pub use refusal::Refusal;
