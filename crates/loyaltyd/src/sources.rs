//! Scanner sources from configuration.

use crate::config::{ScannerSettings, Terminator};

/// The serial source for a configured scanner.
pub fn serial(settings: &ScannerSettings) -> anyhow::Result<scanner::SerialSource> {
    let terminator = match &settings.terminator {
        Terminator::Newline => scanner::serial::Terminator::Newline,
        Terminator::Suffix(bytes) => scanner::serial::Terminator::Suffix(bytes.clone()),
        Terminator::QuietGap(_) => scanner::serial::Terminator::QuietGap,
    };
    let quiet_gap = match settings.terminator {
        Terminator::QuietGap(gap) => Some(gap),
        _ => None,
    };
    let source = scanner::SerialSource::new(scanner::SerialConfig {
        name: settings.name.as_str().into(),
        path: settings.path.clone(),
        baud: settings.baud,
        framing: scanner::serial::FramingConfig {
            terminator,
            prefix: settings.prefix.clone(),
            strip_aim: settings.strip_aim,
            max_len: settings.max_length,
            quiet_gap,
            ..scanner::serial::FramingConfig::default()
        },
        dedup_window: settings.duplicate_window,
        ..scanner::SerialConfig::default()
    })
    .map_err(|e| anyhow::anyhow!("scanner {:?}: {e}", settings.name))?;
    Ok(source)
}
