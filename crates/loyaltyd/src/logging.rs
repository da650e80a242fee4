//! Logs: human-readable lines on stderr, which journald captures. `RUST_LOG` sets the level
//! (default `info`). Phone numbers appear masked at info level; secrets never appear.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber. Safe to call twice (the second call does nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // journald adds its own timestamps; a terminal reader still wants them.
        .with_target(false)
        // Colours only for a person at a terminal; journald and pipes get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
