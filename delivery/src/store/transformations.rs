//! The store's part for transformations: their records, their executions, and
//! routing whose decisions were computed outside the write transaction (running
//! user code inside it would hold the database's writer for as long as the code
//! runs).

use std::collections::HashMap;

use async_trait::async_trait;

use super::{Page, PageQuery, StoreResult};
use crate::model::{Connection, RequestRecord};
use crate::transform::invoke::HttpRequest;
use crate::transform::records::{
    Execution, ExecutionFilter, PreparedRoute, Transformation, TransformationFilter,
};

#[async_trait]
pub trait TransformStore: Send + Sync + 'static {
    async fn insert_transformation(&self, t: &Transformation) -> StoreResult<()>;
    async fn update_transformation(&self, t: &Transformation) -> StoreResult<()>;
    async fn get_transformation(
        &self,
        id: &str,
        with_module: bool,
    ) -> StoreResult<Option<Transformation>>;
    async fn find_transformation_by_name(&self, name: &str) -> StoreResult<Option<Transformation>>;
    /// Listed without their modules.
    async fn list_transformations(
        &self,
        f: &TransformationFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Transformation>>;

    async fn insert_execution(&self, e: &Execution) -> StoreResult<()>;
    async fn get_execution(&self, id: &str) -> StoreResult<Option<Execution>>;
    async fn list_executions(
        &self,
        f: &ExecutionFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Execution>>;

    /// Up to `limit` unrouted requests (with bodies), oldest first, and the
    /// connections of their sources. Reads only: nothing is locked.
    async fn unrouted_requests(
        &self,
        limit: i64,
    ) -> StoreResult<(Vec<RequestRecord>, HashMap<String, Vec<Connection>>)>;
    /// Stores prepared routes in one transaction: for each request still
    /// unrouted (another replica may have routed it meanwhile), its events,
    /// ignored events, failed events, event data and executions. Returns how many
    /// requests were routed and events created.
    async fn store_prepared_routes(
        &self,
        routes: &[PreparedRoute],
        now: i64,
    ) -> StoreResult<(usize, usize)>;
    /// The transformed requests of those events that have one.
    async fn transformed_requests(
        &self,
        event_ids: &[String],
    ) -> StoreResult<HashMap<String, HttpRequest>>;
}
