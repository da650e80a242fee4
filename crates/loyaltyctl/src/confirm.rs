//! Asking a person before something that cannot be undone.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};

/// Whether the person at the terminal may be asked: without `--yes`, stdin must be a terminal,
/// so that a script that forgot `--yes` fails at once instead of reading its own input as the
/// answer. `what` names the action for the message (`drop outbox item 7`).
pub fn check_can_ask(yes: bool, what: &str) -> anyhow::Result<()> {
    if !yes && !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without confirmation: stdin is not a terminal; pass --yes");
    }
    Ok(())
}

/// Shows `details` and asks `question` (`drop capture lane1-7-capture?`) on stderr, and reads the
/// answer from stdin. Only `y` or `yes` (any case) is yes; an empty line or end of input is no.
pub async fn ask(details: String, question: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        let mut stderr = std::io::stderr().lock();
        write!(stderr, "{details}{question} [y/N] ")?;
        stderr.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(is_yes(&answer))
    })
    .await
    .context("reading the answer")?
}

fn is_yes(answer: &str) -> bool {
    let answer = answer.trim();
    answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_is_yes() {
        for yes in ["y\n", "Y\n", "yes\n", " YES \r\n", "y"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n\n", "no\n", "yep\n", "y y\n", "ja\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
