//! `hookyard filter eval`: test filters from the command line. Reads JSON lines
//! `{"filter": …, "input": …}` and prints `true` or `false` for each.

use std::io::{BufRead, Write};

use hookyard_core::filter::Filter;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    filter: serde_json::Value,
    input: serde_json::Value,
}

/// Evaluates every line; a bad line prints `error: …` (with its line number) and
/// evaluation goes on. Returns whether every line was valid.
pub fn run(input: impl BufRead, mut out: impl Write) -> std::io::Result<bool> {
    let mut all_ok = true;
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let result = serde_json::from_str::<Case>(&line)
            .map_err(|e| {
                format!(
                    "line {}: not a {{\"filter\", \"input\"}} object: {e}",
                    i + 1
                )
            })
            .and_then(|c| {
                Filter::parse(&c.filter)
                    .map(|f| f.matches(&c.input))
                    .map_err(|e| format!("line {}: {e}", i + 1))
            });
        match result {
            Ok(m) => writeln!(out, "{m}")?,
            Err(e) => {
                all_ok = false;
                writeln!(out, "error: {e}")?;
            }
        }
    }
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_one_verdict_per_line_and_reports_errors() {
        let input = concat!(
            "{\"filter\": {\"type\": \"a\"}, \"input\": {\"type\": \"a\"}}\n",
            "{\"filter\": {\"type\": \"a\"}, \"input\": {\"type\": \"b\"}}\n",
            "\n",
            "{\"filter\": {\"n\": {\"$bogus\": 1}}, \"input\": {}}\n",
            "not json\n",
        );
        let mut out = Vec::new();
        let ok = run(input.as_bytes(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(!ok);
        assert_eq!(lines[0], "true");
        assert_eq!(lines[1], "false");
        assert!(lines[2].starts_with("error: line 4:"), "{}", lines[2]);
        assert!(lines[3].starts_with("error: line 5:"), "{}", lines[3]);
    }
}
