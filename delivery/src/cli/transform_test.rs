//! `hookyard transform test`: runs a component on a stored or hand-written
//! request and reports the output, a diff against the input, and the logs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use similar::TextDiff;

use super::args::TransformTestArgs;
use crate::config::{Config, Overrides};
use crate::model::HttpRequest;
use crate::transform::Transforms;

/// What the command prints, and whether the transformation succeeded.
pub struct Report {
    pub text: String,
    pub ok: bool,
}

/// A request file: Hookdeck's run-request shape, plus `method`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFile {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

pub async fn test(args: TransformTestArgs) -> anyhow::Result<Report> {
    let overrides = Overrides {
        listen: None,
        data_dir: args.data_dir.clone(),
        database_url: args.database_url.clone(),
    };
    let cfg = Config::load(args.config.as_deref(), &overrides)?;
    let module = std::fs::read(&args.module)
        .with_context(|| format!("cannot read {}", args.module.display()))?;
    let input = load_request(&cfg, &args.request).await?;
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--env {kv:?} must be KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let transforms = Transforms::new(cfg.transformations.clone(), None);
    let given = input.clone();
    let name = args.module.display().to_string();
    // Compiling and running block: off the async thread, as the gateway does.
    let outcome = tokio::task::spawn_blocking(move || {
        let prepared = transforms
            .prepare(&module)
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let limits = transforms.limits(None, None);
        Ok::<_, anyhow::Error>(transforms.run(&prepared, given, &env, &limits))
    })
    .await??;

    let mut text = String::new();
    let took = outcome.duration.as_secs_f64() * 1000.0;
    let ok = outcome.result.is_ok();
    match &outcome.result {
        Ok(out) => {
            let (before, after) = (render(&input), render(out));
            let _ = writeln!(text, "== output ({took:.3} ms)\n{after}");
            let _ = writeln!(text, "== diff (input → output)");
            if before == after {
                let _ = writeln!(text, "(unchanged)");
            } else {
                let diff = TextDiff::from_lines(&before, &after);
                let _ = write!(
                    text,
                    "{}",
                    diff.unified_diff()
                        .context_radius(3)
                        .header("input", "output")
                );
            }
        }
        Err(e) => {
            let _ = writeln!(text, "== failed ({took:.3} ms)\n{e}");
        }
    }
    let _ = writeln!(text, "\n== logs ({} lines)", outcome.logs.len());
    for line in &outcome.logs {
        let _ = writeln!(text, "{line}");
    }
    Ok(Report { text, ok })
}

async fn load_request(cfg: &Config, arg: &str) -> anyhow::Result<HttpRequest> {
    let path = std::path::Path::new(arg);
    if path.exists() || arg.ends_with(".json") {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {arg}"))?;
        let f: RequestFile = serde_json::from_slice(&bytes).with_context(|| {
            format!("{arg} is not a request file ({{method, path, query, headers, body}})")
        })?;
        let body = match f.body {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => s.into_bytes(),
            Some(v) => v.to_string().into_bytes(),
        };
        return Ok(HttpRequest {
            method: f
                .method
                .unwrap_or_else(|| "POST".into())
                .to_ascii_uppercase(),
            path: f.path.unwrap_or_else(|| "/".into()),
            query: f.query.unwrap_or_default(),
            headers: f
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
        });
    }
    let store = crate::open_store(cfg).await?;
    let r = store
        .get_request(arg, true)
        .await?
        .with_context(|| format!("no request {arg:?} in {}", describe_db(cfg)))?;
    Ok(HttpRequest {
        method: r.method,
        path: r.path,
        query: r.query,
        headers: r.headers,
        body: r.body.unwrap_or_default(),
    })
}

fn describe_db(cfg: &Config) -> String {
    if cfg.database_url.is_empty() {
        format!("the SQLite database in {}", cfg.data_dir.display())
    } else {
        "the PostgreSQL database".into()
    }
}

/// A request as text for reading and diffing: request line, headers, then the
/// body (pretty JSON when it is JSON).
pub fn render(r: &HttpRequest) -> String {
    let mut s = format!(
        "{} {}{}{}\n",
        r.method,
        r.path,
        if r.query.is_empty() { "" } else { "?" },
        r.query
    );
    for (k, v) in &r.headers {
        let _ = writeln!(s, "{k}: {v}");
    }
    s.push('\n');
    match serde_json::from_slice::<serde_json::Value>(&r.body) {
        Ok(v) => s.push_str(&serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(_) => s.push_str(&String::from_utf8_lossy(&r.body)),
    }
    s.push('\n');
    s
}
