//! Sends alert email over SMTP with lettre (plain, STARTTLS or TLS).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Email, Tokio1Executor};

use super::message::Message;
use crate::config::{EmailConfig, SmtpTls};

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("email address {0:?} is not valid: {1}")]
    Address(String, String),
    #[error("could not build the email: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(String),
}

pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailSender {
    /// `None` when no SMTP host is configured (email alerts off).
    pub fn from_config(cfg: &EmailConfig) -> Result<Option<Self>, EmailError> {
        if cfg.smtp_host.is_empty() {
            return Ok(None);
        }
        let host = cfg.smtp_host.as_str();
        let builder = match cfg.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| EmailError::Smtp(e.to_string()))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| EmailError::Smtp(e.to_string()))?,
        };
        let mut builder = builder
            .port(cfg.smtp_port)
            .timeout(Some(Duration::from_secs(15)));
        if !cfg.username.is_empty() {
            builder =
                builder.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
        }
        Ok(Some(EmailSender {
            transport: builder.build(),
            from: mailbox(&cfg.from)?,
        }))
    }

    pub async fn send(&self, to: &[String], m: &Message) -> Result<(), EmailError> {
        let mut email = Email::builder()
            .from(self.from.clone())
            .subject(m.subject.clone());
        for addr in to {
            email = email.to(mailbox(addr)?);
        }
        let email = email
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| EmailError::Build(e.to_string()))?;
        self.transport
            .send(email)
            .await
            .map_err(|e| EmailError::Smtp(e.to_string()))?;
        Ok(())
    }
}

pub fn mailbox(addr: &str) -> Result<Mailbox, EmailError> {
    addr.parse::<Mailbox>()
        .map_err(|e| EmailError::Address(addr.to_owned(), e.to_string()))
}
