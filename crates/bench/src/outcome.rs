//! What a benchmark reports: one line for people and one JSON line for BENCHMARKS.md.

use serde_json::{Value, json};

/// The result of one benchmark against its target.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `p1` … `p7`.
    pub id: &'static str,
    /// What was measured, in a few words.
    pub title: &'static str,
    /// The target, as the issue states it (with the numbers it resolved to in this run).
    pub target: String,
    /// The measured result, in a sentence.
    pub result: String,
    /// Whether the target was met.
    pub pass: bool,
    /// Every figure behind `result`, for the JSON line.
    pub details: Value,
}

impl Outcome {
    /// `PASS` or `MISS`.
    pub fn verdict(&self) -> &'static str {
        if self.pass { "PASS" } else { "MISS" }
    }

    /// The human line: `P1 PASS scan → barcode event: … (target …)`.
    pub fn line(&self) -> String {
        format!(
            "{} {} {}: {} (target: {})",
            self.id.to_uppercase(),
            self.verdict(),
            self.title,
            self.result,
            self.target
        )
    }

    /// The machine line: everything, as one JSON object.
    pub fn json(&self) -> Value {
        json!({
            "bench": self.id,
            "title": self.title,
            "pass": self.pass,
            "target": self.target,
            "result": self.result,
            "details": self.details,
            "at": jiff::Timestamp::now().to_string(),
        })
    }

    /// Prints both lines on standard output.
    pub fn print(&self) {
        println!("{}", self.line());
        println!("{}", self.json());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_verdict() {
        let outcome = Outcome {
            id: "p4",
            title: "idle CPU",
            target: "≤ 50 ms".to_owned(),
            result: "12 ms".to_owned(),
            pass: true,
            details: json!({"cpu_ms": 12}),
        };
        assert_eq!(outcome.line(), "P4 PASS idle CPU: 12 ms (target: ≤ 50 ms)");
        let json = outcome.json();
        assert_eq!(json["bench"], "p4");
        assert_eq!(json["pass"], true);
        assert_eq!(json["details"]["cpu_ms"], 12);
        let miss = Outcome {
            pass: false,
            ..outcome
        };
        assert_eq!(miss.verdict(), "MISS");
    }
}
