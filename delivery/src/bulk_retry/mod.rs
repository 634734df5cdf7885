//! Bulk retry (Hookdeck's `/bulk/events/retry`, `/bulk/requests/retry`,
//! `/bulk/ignored-events/retry`): retry every event, request or ignored event a
//! query matches, in steps, with progress and cancel.
//!
//! - this module: the queries operations run (event and request queries are
//!   compiled by [`crate::query`], as lists' are; ignored-event queries here);
//! - [`worker`]: takes steps of unfinished operations, on any replica.

pub mod worker;

use crate::model::{IgnoredEventQuery, OneOrMany};
pub use crate::query::{Compiled, CompiledQuery, QueryError};
use crate::store::{IgnoredSelection, RequestFilter, Store, StoreResult};

/// A request query, compiled.
pub type CompiledRequestQuery = Compiled<RequestFilter>;

/// The causes an ignored event can have (Hookdeck's, and Hookyard's `DISABLED`).
const IGNORED_CAUSES: [&str; 6] = [
    "FILTERED",
    "TOPIC_NOT_SUBSCRIBED",
    "DISABLED",
    "TRANSFORMATION_FAILED",
    "CLI_DISCONNECTED",
    "ARCHIVED",
];

impl IgnoredEventQuery {
    /// Checks the query; the selection needs the store (see [`Self::selection`]).
    pub fn check(&self) -> Result<(), QueryError> {
        for c in self
            .cause
            .as_ref()
            .map(OneOrMany::to_vec)
            .unwrap_or_default()
        {
            if !IGNORED_CAUSES.contains(&c.as_str()) {
                return Err(QueryError::Invalid {
                    field: "cause",
                    message: format!("must be one of {}, not {c:?}", IGNORED_CAUSES.join(", ")),
                });
            }
        }
        Ok(())
    }

    /// What the query selects now: `transformation_id` stands for the
    /// connections whose rules run it at this moment.
    pub async fn selection(&self, store: &Store) -> StoreResult<IgnoredSelection> {
        let mut connection_ids = self.webhook_id.as_ref().map(OneOrMany::to_vec);
        if let Some(tid) = &self.transformation_id {
            let using: Vec<String> = store
                .connections_using_transformation(tid)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            connection_ids = Some(match connection_ids {
                None => using,
                Some(ids) => ids.into_iter().filter(|i| using.contains(i)).collect(),
            });
        }
        Ok(IgnoredSelection {
            causes: self
                .cause
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default(),
            connection_ids,
        })
    }
}
