//! Alerts: tell people when deliveries fail or a broker source cannot be
//! consumed, by email, chat webhook, PagerDuty and Opsgenie.
//!
//! One alert when an issue opens (once its trigger's threshold is met), then at
//! most one digest every `alerts.digest_interval_secs` while issues keep
//! failing, a recovery note when an alerted issue resolves, and a note when a
//! destination is disabled. Incident channels (PagerDuty, Opsgenie) get an
//! incident for the opening alert, resolved when the issue resolves or is
//! dismissed or ignored, and none for digests (their incident is still open).
//! What was sent is recorded on the issue, claimed by one replica, so nothing
//! is sent twice.
//!
//! - [`message`]: what each alert says; [`incident`]: what incident channels
//!   are told; [`email`], [`webhook`], [`pagerduty`], [`opsgenie`]: how it goes
//!   out.

pub mod email;
pub mod incident;
pub mod message;
pub mod opsgenie;
pub mod pagerduty;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::config::AlertsConfig;
use crate::egress::{redact, EgressPolicy};
use crate::model::{
    Channels, EmailChannel, Issue, IssueStatus, IssueTrigger, IssueType, NameMatch,
    OpsgenieChannel, OpsgenieRegion, TriggerConfigs, TriggerStrategy, WebhookChannel,
};
use crate::periodic::{every, Periodic, Step};
use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreResult};
use crate::telemetry;
use email::EmailSender;
use incident::{Action, Incident};
use message::{IssueContext, Message};

pub struct Notifier {
    pub store: Arc<Store>,
    pub catalog: Arc<Catalog>,
    pub config: AlertsConfig,
    pub email: Option<EmailSender>,
    /// Built with [`crate::egress::resolve::client_builder`]: guarded, no redirects.
    pub http: reqwest::Client,
    /// Checks IP-literal webhook URLs (the client's resolver checks names).
    pub egress: Arc<EgressPolicy>,
    pub base_url: String,
    /// Woken (`Signal::Alerts`) when issues open or change.
    pub signals: Signals,
}

impl Periodic for Notifier {
    async fn step(&mut self) -> Step {
        if let Err(e) = self.round().await {
            tracing::error!(error = %e, "alert round failed; will retry");
        }
        Step::Idle
    }
}

/// Where one alert goes.
#[derive(Debug, Default, PartialEq)]
struct Recipients {
    emails: Vec<String>,
    webhooks: Vec<String>,
    /// PagerDuty routing keys.
    pagerduty: Vec<String>,
    opsgenie: Vec<OpsgenieChannel>,
}

/// Appends the items of `more` that `list` does not hold yet.
fn push_new<T: PartialEq>(list: &mut Vec<T>, more: impl IntoIterator<Item = T>) {
    for x in more {
        if !list.contains(&x) {
            list.push(x);
        }
    }
}

impl Recipients {
    fn add(&mut self, channels: &Channels, default_to: &[String]) {
        if let Some(EmailChannel { to }) = &channels.email {
            let list = if to.is_empty() { default_to } else { to };
            push_new(&mut self.emails, list.iter().cloned());
        }
        let hooks = [&channels.webhook, &channels.slack].into_iter().flatten();
        push_new(&mut self.webhooks, hooks.map(|w| w.url.clone()));
        let pd = channels.pagerduty.iter().map(|p| p.routing_key.clone());
        push_new(&mut self.pagerduty, pd);
        push_new(&mut self.opsgenie, channels.opsgenie.iter().cloned());
    }

    fn merge(&mut self, other: Recipients) {
        push_new(&mut self.emails, other.emails);
        push_new(&mut self.webhooks, other.webhooks);
        push_new(&mut self.pagerduty, other.pagerduty);
        push_new(&mut self.opsgenie, other.opsgenie);
    }

    /// Only the incident channels (an issue closed by hand ends their incident;
    /// the others hear nothing).
    fn incidents_only(self) -> Recipients {
        Recipients {
            pagerduty: self.pagerduty,
            opsgenie: self.opsgenie,
            ..Recipients::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.emails.is_empty()
            && self.webhooks.is_empty()
            && self.pagerduty.is_empty()
            && self.opsgenie.is_empty()
    }
}

impl Notifier {
    pub async fn run(mut self, shutdown: Shutdown) {
        let tick = Duration::from_millis(self.config.check_interval_ms.max(10));
        let signals = self.signals.clone();
        every(tick, &signals, Signal::Alerts, shutdown, &mut self).await
    }

    /// The triggers in force: the configured ones, or, when there are none, one
    /// built from the config's default recipients (all delivery, transformation
    /// and source issues: a broker source nobody can read is news too).
    async fn triggers(&self) -> StoreResult<Vec<IssueTrigger>> {
        let mut list: Vec<IssueTrigger> = self
            .store
            .list_triggers()
            .await?
            .into_iter()
            .filter(|t| t.disabled_at.is_none())
            .collect();
        if list.is_empty() {
            let channels = self.default_channels();
            if channels.email.is_some() || channels.webhook.is_some() {
                for t in [
                    IssueType::Delivery,
                    IssueType::Transformation,
                    IssueType::Source,
                ] {
                    list.push(IssueTrigger {
                        id: "default".into(),
                        name: None,
                        issue_type: t,
                        configs: TriggerConfigs {
                            strategy: TriggerStrategy::FirstAttempt,
                            connections: NameMatch::Pattern("*".into()),
                            destinations: NameMatch::Pattern("*".into()),
                            sources: NameMatch::Pattern("*".into()),
                            threshold: None,
                            delay: None,
                        },
                        channels: channels.clone(),
                        disabled_at: None,
                        created_at: 0,
                        updated_at: 0,
                    });
                }
            }
        }
        Ok(list)
    }

    fn default_channels(&self) -> Channels {
        Channels {
            email: (!self.config.email.to.is_empty() && self.email.is_some())
                .then(EmailChannel::default),
            webhook: (!self.config.webhook_url.is_empty()).then(|| WebhookChannel {
                url: self.config.webhook_url.clone(),
                channel_name: None,
            }),
            ..Channels::default()
        }
    }

    /// One pass over everything that may need telling.
    pub async fn round(&self) -> StoreResult<()> {
        let triggers = self.triggers().await?;
        let now = now_ms();
        for issue in self.store.issues_awaiting_alert().await? {
            let to = self.recipients_for(&issue, &triggers, true).await?;
            if to.is_empty() || !self.store.claim_issue_alert(&issue.id, now).await? {
                continue;
            }
            let ctx = self.context(&issue).await?;
            let view = ctx.view(&issue, &self.base_url);
            let m = message::opened(&view);
            let open = incident::for_issue(&view, &m, Action::Open, now);
            if !self.send(&to, &m, "opened", Some(&open)).await {
                self.store.release_issue_alert(&issue.id).await?;
            }
        }
        for issue in self.store.issues_awaiting_recovery().await? {
            let recovered = issue.status == IssueStatus::Resolved;
            let mut to = self.recipients_for(&issue, &triggers, false).await?;
            if !recovered {
                to = to.incidents_only();
            }
            if to.is_empty() {
                // A dismissed or ignored issue with nobody to tell is done with;
                // a resolved one waits, as it always has, for a trigger to match.
                if !recovered {
                    self.store.claim_recovery_alert(&issue.id, now).await?;
                }
                continue;
            }
            if !self.store.claim_recovery_alert(&issue.id, now).await? {
                continue;
            }
            let ctx = self.context(&issue).await?;
            let view = ctx.view(&issue, &self.base_url);
            let (m, kind) = if recovered {
                (message::recovered(&view), "recovered")
            } else {
                (message::closed(&view), "closed")
            };
            let resolve = incident::for_issue(&view, &m, Action::Resolve, now);
            if !self.send(&to, &m, kind, Some(&resolve)).await {
                self.store.release_recovery_alert(&issue.id).await?;
            }
        }
        for id in self.store.destinations_awaiting_disable_alert().await? {
            let mut to = Recipients::default();
            for t in &triggers {
                to.add(&t.channels, &self.config.email.to);
            }
            to.add(&self.default_channels(), &self.config.email.to);
            if to.is_empty() || !self.store.claim_disable_alert(&id, now).await? {
                continue;
            }
            let Some(d) = self.store.get_destination(&id).await? else {
                continue;
            };
            let m = message::destination_disabled(&d, &self.base_url);
            let open = incident::for_disabled(&d, &m, &self.base_url, now);
            if !self.send(&to, &m, "disabled", Some(&open)).await {
                self.store.release_disable_alert(&id).await?;
            }
        }
        self.digest(&triggers, now).await
    }

    async fn digest(&self, triggers: &[IssueTrigger], now: i64) -> StoreResult<()> {
        let interval = (self.config.digest_interval_secs as i64).saturating_mul(1000);
        let pending = self.store.issues_for_digest(now - interval).await?;
        if pending.is_empty() {
            return Ok(());
        }
        if !self.store.claim_digest(now, interval).await? {
            return Ok(());
        }
        let mut to = Recipients::default();
        let mut contexts = Vec::new();
        for issue in &pending {
            to.merge(self.recipients_for(issue, triggers, false).await?);
            contexts.push(self.context(issue).await?);
        }
        let views: Vec<IssueContext<'_>> = pending
            .iter()
            .zip(&contexts)
            .map(|(i, c)| c.view(i, &self.base_url))
            .collect();
        // No incident: each issue's incident is open since its opening alert.
        if !to.is_empty()
            && self
                .send(&to, &message::digest(&views), "digest", None)
                .await
        {
            let ids: Vec<String> = pending.iter().map(|i| i.id.clone()).collect();
            self.store.mark_digested(&ids, now).await?;
        }
        Ok(())
    }

    /// The union of the channels of triggers that match `issue`; with
    /// `check_threshold`, only of those whose threshold it has reached.
    async fn recipients_for(
        &self,
        issue: &Issue,
        triggers: &[IssueTrigger],
        check_threshold: bool,
    ) -> StoreResult<Recipients> {
        let connection = match &issue.connection_id {
            Some(id) => self.catalog.connection(id).await?,
            None => None,
        };
        let destination = match &issue.destination_id {
            Some(id) => self.catalog.destination(id).await?,
            None => None,
        };
        let source = match &issue.source_id {
            Some(id) => self.catalog.source(id).await?,
            None => None,
        };
        let mut to = Recipients::default();
        for t in triggers.iter().filter(|t| t.issue_type == issue.issue_type) {
            let c = &t.configs;
            let applies = match issue.issue_type {
                IssueType::Backpressure => match (&issue.destination_id, &destination) {
                    (Some(id), d) => c
                        .destinations
                        .matches(id, d.as_ref().map(|d| d.name.as_str())),
                    _ => false,
                },
                IssueType::Source => match &issue.source_id {
                    Some(id) => c
                        .sources
                        .matches(id, source.as_ref().map(|s| s.name.as_str())),
                    None => false,
                },
                IssueType::Delivery | IssueType::Transformation => match &issue.connection_id {
                    Some(id) => c
                        .connections
                        .matches(id, connection.as_ref().and_then(|c| c.name.as_deref())),
                    None => false,
                },
            };
            if !applies {
                continue;
            }
            if check_threshold && !self.threshold_reached(issue, c).await? {
                continue;
            }
            to.add(&t.channels, &self.config.email.to);
        }
        Ok(to)
    }

    async fn threshold_reached(&self, issue: &Issue, c: &TriggerConfigs) -> StoreResult<bool> {
        let count = match (issue.issue_type, c.strategy) {
            // A source's failures are failed reads of its broker, not attempts
            // with or without a retry left: every one counts.
            (IssueType::Source, _) => issue.opened_count,
            (_, TriggerStrategy::FirstAttempt) => issue.opened_count,
            (_, TriggerStrategy::FinalAttempt) => issue.final_count,
        };
        if count < 1 && issue.issue_type != IssueType::Backpressure {
            return Ok(false);
        }
        let Some(th) = &c.threshold else {
            return Ok(true);
        };
        if let Some(n) = th.consecutive_failures {
            if count < n {
                return Ok(false);
            }
        }
        if let (Some(rate), Some(dest)) = (&th.failure_rate, &issue.destination_id) {
            let since = now_ms() - (rate.window_secs as i64).saturating_mul(1000);
            let (failed, total) = self.store.destination_attempt_counts(dest, since).await?;
            if total < rate.min_attempts || (failed as f64) < rate.rate * total as f64 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    async fn context(&self, issue: &Issue) -> StoreResult<LoadedContext> {
        Ok(LoadedContext {
            connection: match &issue.connection_id {
                Some(id) => self.store.get_connection(id).await?,
                None => None,
            },
            destination: match &issue.destination_id {
                Some(id) => self.store.get_destination(id).await?,
                None => None,
            },
            source: match &issue.source_id {
                Some(id) => self.store.get_source(id).await?,
                None => None,
            },
            attempt: match &issue.reference_attempt_id {
                Some(id) => self.store.get_attempt(id).await?,
                None => None,
            },
        })
    }

    /// Sends to every recipient (incident channels only with an `incident`);
    /// true if every send went out.
    async fn send(
        &self,
        to: &Recipients,
        m: &Message,
        kind: &'static str,
        incident: Option<&Incident>,
    ) -> bool {
        // Alerts quote destination URLs, attempt errors and disable reasons (some
        // stored before errors were redacted): one pass here covers them all.
        let m = &Message {
            subject: redact::urls_in(&m.subject),
            body: redact::urls_in(&m.body),
        };
        let mut ok = true;
        if !to.emails.is_empty() {
            match &self.email {
                Some(sender) => {
                    let sent = sender.send(&to.emails, m).await;
                    if let Err(e) = &sent {
                        tracing::error!(error = %e, kind, "alert email not sent");
                    }
                    telemetry::alert_sent("email", kind, sent.is_ok());
                    ok &= sent.is_ok();
                }
                None => tracing::warn!(
                    kind,
                    "an alert has email recipients but alerts.email.smtp_host is not set"
                ),
            }
        }
        for url in &to.webhooks {
            let sent = webhook::send(&self.http, &self.egress, url, m).await;
            if let Err(e) = &sent {
                tracing::error!(error = %e, kind, "alert webhook not sent");
            }
            telemetry::alert_sent("webhook", kind, sent.is_ok());
            ok &= sent.is_ok();
        }
        if let Some(i) = incident {
            ok &= self.send_incidents(to, &redacted_incident(i), kind).await;
        }
        ok
    }

    async fn send_incidents(&self, to: &Recipients, i: &Incident, kind: &'static str) -> bool {
        let mut ok = true;
        for key in &to.pagerduty {
            let base = &self.config.pagerduty_url;
            let sent = pagerduty::send(&self.http, &self.egress, base, key, i).await;
            if let Err(e) = &sent {
                tracing::error!(error = %e, kind, "PagerDuty alert not sent");
            }
            telemetry::alert_sent("pagerduty", kind, sent.is_ok());
            ok &= sent.is_ok();
        }
        for og in &to.opsgenie {
            let base = match og.region {
                Some(OpsgenieRegion::Eu) => &self.config.opsgenie_eu_url,
                Some(OpsgenieRegion::Us) | None => &self.config.opsgenie_url,
            };
            let sent = opsgenie::send(&self.http, &self.egress, base, &og.api_key, i).await;
            if let Err(e) = &sent {
                tracing::error!(error = %e, kind, "Opsgenie alert not sent");
            }
            telemetry::alert_sent("opsgenie", kind, sent.is_ok());
            ok &= sent.is_ok();
        }
        ok
    }
}

/// `i` with the credentials in URLs it quotes replaced, as [`Notifier::send`]
/// does for messages.
fn redacted_incident(i: &Incident) -> Incident {
    Incident {
        summary: redact::urls_in(&i.summary),
        description: redact::urls_in(&i.description),
        details: i
            .details
            .iter()
            .map(|(k, v)| (*k, redact::urls_in(v)))
            .collect(),
        ..i.clone()
    }
}

/// The records an alert about one issue quotes.
struct LoadedContext {
    connection: Option<crate::model::Connection>,
    destination: Option<crate::model::Destination>,
    source: Option<crate::model::Source>,
    attempt: Option<crate::model::Attempt>,
}

impl LoadedContext {
    fn view<'a>(&'a self, issue: &'a Issue, base_url: &'a str) -> IssueContext<'a> {
        IssueContext {
            issue,
            connection: self.connection.as_ref(),
            destination: self.destination.as_ref(),
            source: self.source.as_ref(),
            attempt: self.attempt.as_ref(),
            base_url,
        }
    }
}
