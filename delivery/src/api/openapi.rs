//! Our OpenAPI document, served at `/openapi.json`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    attempts, bookmarks, bulk, connections, destinations, event_metrics, events, filters,
    issue_triggers, issues, listen, publish_keys, requests, sources, topics, transformations,
    views,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Hookyard API", description = "Management API of Hookyard, shaped like Hookdeck's 2024-09-01 API."),
    servers((url = "/2024-09-01")),
    security(("bearerAuth" = [])),
    modifiers(&BearerAuth),
    paths(
        sources::list, sources::create, sources::upsert, sources::retrieve, sources::update,
        sources::delete, sources::disable, sources::enable, sources::archive, sources::unarchive,
        destinations::list, destinations::create, destinations::upsert, destinations::retrieve,
        destinations::update, destinations::delete, destinations::disable, destinations::enable,
        destinations::backlog, destinations::archive, destinations::unarchive, destinations::test,
        connections::list, connections::create, connections::upsert, connections::retrieve,
        connections::update, connections::delete, connections::pause, connections::unpause,
        connections::disable, connections::enable, connections::count, connections::archive,
        connections::unarchive,
        issues::list, issues::count, issues::retrieve, issues::update, issues::dismiss,
        issue_triggers::list, issue_triggers::create, issue_triggers::upsert,
        issue_triggers::retrieve, issue_triggers::update, issue_triggers::delete,
        issue_triggers::disable, issue_triggers::enable,
        bulk::plan, bulk::create, bulk::list, bulk::retrieve, bulk::cancel,
        bulk::plan_requests, bulk::create_requests, bulk::list_requests, bulk::retrieve_requests,
        bulk::cancel_requests, bulk::plan_ignored, bulk::create_ignored, bulk::list_ignored,
        bulk::retrieve_ignored, bulk::cancel_ignored,
        requests::list, requests::retrieve, requests::raw, requests::events, requests::ignored,
        requests::retry,
        events::list, events::retrieve, events::raw, events::retry, events::mute,
        attempts::list, attempts::retrieve,
        transformations::list, transformations::create, transformations::upsert,
        transformations::retrieve, transformations::update, transformations::delete,
        transformations::run,
        transformations::executions, transformations::execution,
        bookmarks::list, bookmarks::create, bookmarks::retrieve, bookmarks::update,
        bookmarks::delete, bookmarks::raw, bookmarks::trigger,
        filters::evaluate, event_metrics::events,
        listen::listen, listen::sessions,
        crate::ingest::publish::publish, crate::ingest::publish::publish_batch,
        publish_keys::create, publish_keys::list, publish_keys::remove, topics::list,
    ),
    components(schemas(
        sources::SourceIn, destinations::DestinationIn, connections::ConnectionIn,
        connections::ConnectionUpdate, connections::ConnectionCount, requests::RetryRequestIn,
        requests::RetryRequestOut,
        views::RawBody, views::SourceOut, views::DestinationOut, views::ConnectionOut,
        views::RequestOut, views::EventOut, views::AttemptOut, views::IgnoredEventOut,
        views::RequestData, issues::IssueOut, issues::IssueCount, issues::IssueUpdate,
        issue_triggers::TriggerIn, issue_triggers::TriggerOut, bulk::BulkRetryIn,
        bulk::BulkRetryOut, bulk::Plan, bulk::RequestBulkRetryIn, bulk::IgnoredEventBulkRetryIn, crate::model::DestinationBacklog,
        views::RequestData,
        transformations::TransformationIn, transformations::TransformationOut,
        transformations::RunIn, transformations::RunRequestIn, transformations::RunOut,
        transformations::RequestView, transformations::ConsoleLine,
        transformations::ExecutionOut,
        bookmarks::BookmarkIn, bookmarks::BookmarkOut, bookmarks::TriggerIn,
        filters::EvaluateIn, filters::FilterIn, filters::EvaluateOut, filters::FilterView,
        event_metrics::EventMetrics, event_metrics::Bucket, event_metrics::LatencyBucket,
        event_metrics::DestinationSeries, event_metrics::ConnectionTotals,
        crate::model::RabbitMqConfig, crate::model::NatsConfig, crate::model::SqsConfig,
        crate::model::EventBridgeConfig, crate::model::DetailFormat,
        crate::model::RedisStreamConfig, destinations::TestOut, listen::SessionOut,
        crate::model::RabbitMqSourceConfig, crate::model::NatsSourceConfig,
        crate::model::SqsSourceConfig, crate::model::RedisStreamSourceConfig,
        crate::model::TopicFrom, publish_keys::PublishKeyIn, publish_keys::PublishKeyOut,
        publish_keys::PublishKeyList, topics::TopicOut, topics::TopicList,
    ))
)]
pub struct ApiDoc;
