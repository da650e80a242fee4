//! Regenerating BENCHMARKS.md's table from a run's JSON lines.

use serde_json::Value;

/// The markdown table of the outcomes among `jsonl` (the output of `loyaltyd-bench all`, or of
/// several runs: later lines of a benchmark replace earlier ones), in P1…P7 order. Lines that
/// are not outcomes (the human lines, the machine line) are skipped.
pub fn markdown(jsonl: &str) -> String {
    let mut rows: Vec<(String, Value)> = Vec::new();
    for line in jsonl.lines() {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(id) = value.get("bench").and_then(Value::as_str) else {
            continue;
        };
        let id = id.to_owned();
        rows.retain(|(other, _)| *other != id);
        rows.push((id, value));
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('|', "\\|")
    };
    let mut out = String::from("| | what | target | result | verdict |\n|---|---|---|---|---|\n");
    for (id, v) in rows {
        let verdict = match v.get("pass").and_then(Value::as_bool) {
            Some(true) => "pass",
            Some(false) => "**miss**",
            None => "?",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {verdict} |\n",
            id.to_uppercase(),
            text(&v, "title"),
            text(&v, "target"),
            text(&v, "result"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_lines_replace_earlier_ones_and_rows_are_ordered() {
        let jsonl = r#"P2 PASS something human
{"bench":"p2","title":"b","target":"t","result":"old","pass":false}
{"machine":{"cpus":2}}
{"bench":"p1","title":"a | b","target":"t","result":"r","pass":true}
{"bench":"p2","title":"b","target":"t","result":"new","pass":true}
"#;
        let table = markdown(jsonl);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert_eq!(lines[2], r"| P1 | a \| b | t | r | pass |");
        assert_eq!(lines[3], "| P2 | b | t | new | pass |");
    }
}
