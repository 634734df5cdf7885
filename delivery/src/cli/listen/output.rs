//! What `hookyard listen` prints: one line per event on stdout (text, coloured on
//! a terminal, or JSON lines with `--output json`), and the connection's state on
//! stderr, so a script reading stdout sees only events.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::destinations::cli::protocol::{EventFrame, ReplyFrame};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct Output {
    format: Format,
    colour: bool,
    /// `{server}/#/events/` (the dashboard's page of an event).
    event_page: String,
}

#[derive(Serialize)]
struct EventLine<'a> {
    time: String,
    source: &'a str,
    method: &'a str,
    path: &'a str,
    url: &'a str,
    status: Option<u16>,
    duration_ms: u64,
    event_id: &'a str,
    attempt: i64,
    error_code: Option<&'a str>,
    error: Option<&'a str>,
    dashboard_url: String,
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Output {
    pub fn new(format: Format, server: &url::Url) -> Self {
        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Output {
            format,
            colour,
            event_page: format!("{}/#/events/", server.as_str().trim_end_matches('/')),
        }
    }

    fn paint(&self, colour: &str, text: &str) -> String {
        if self.colour {
            format!("{colour}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// One forwarded event.
    pub fn event(&self, source: &str, frame: &EventFrame, reply: &ReplyFrame) {
        let time = chrono::Local::now();
        let dashboard_url = format!("{}{}", self.event_page, frame.event_id);
        let line = match self.format {
            Format::Json => serde_json::to_string(&EventLine {
                time: time.to_rfc3339(),
                source,
                method: &frame.method,
                path: &frame.path,
                url: &reply.url,
                status: reply.status,
                duration_ms: reply.duration_ms,
                event_id: &frame.event_id,
                attempt: frame.attempt,
                error_code: reply.error_code.as_deref(),
                error: reply.error_message.as_deref(),
                dashboard_url,
            })
            .unwrap_or_default(),
            Format::Text => {
                let outcome = match (reply.status, &reply.error_code) {
                    (Some(s), _) => {
                        let c = match s {
                            200..=299 => GREEN,
                            300..=499 => YELLOW,
                            _ => RED,
                        };
                        self.paint(c, &s.to_string())
                    }
                    (None, Some(code)) => self.paint(RED, code),
                    (None, None) => self.paint(RED, "no answer"),
                };
                let retry = if frame.attempt > 1 {
                    format!(" (attempt {})", frame.attempt)
                } else {
                    String::new()
                };
                format!(
                    "{}  {}  {} {}  → {} {}{}  {}  {}",
                    time.format("%H:%M:%S"),
                    self.paint(BOLD, source),
                    frame.method,
                    frame.path,
                    outcome,
                    reply.duration_ms,
                    "ms",
                    self.paint(DIM, &frame.event_id),
                    self.paint(DIM, &format!("{dashboard_url}{retry}")),
                )
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    /// A line about the connection (connected, lost, reconnecting), on stderr.
    pub fn status(&self, text: &str) {
        let time = chrono::Local::now().format("%H:%M:%S");
        eprintln!("{time}  {text}");
    }

    /// A warning about the connection, on stderr, in yellow on a terminal.
    pub fn warn(&self, text: &str) {
        let time = chrono::Local::now().format("%H:%M:%S");
        if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            eprintln!("{time}  {YELLOW}{text}{RESET}");
        } else {
            eprintln!("{time}  {text}");
        }
    }
}
