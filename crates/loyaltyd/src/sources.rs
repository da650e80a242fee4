//! Scanner sources from configuration.

use scanner::ScannerEvent;
use tokio::sync::mpsc;

use crate::config::{ScannerSettings, SourceSettings};

/// Builds the source of a configured scanner without starting it: `check-config` runs the same
/// checks as start-up.
pub fn check(settings: &ScannerSettings) -> anyhow::Result<()> {
    let fail = |e: scanner::ConfigError| anyhow::anyhow!("scanner {:?}: {e}", settings.name);
    match &settings.source {
        SourceSettings::Serial(config) => {
            drop(scanner::SerialSource::new(config.clone()).map_err(fail)?)
        }
        SourceSettings::HidPos(config) => {
            drop(scanner::HidPosSource::new(config.clone()).map_err(fail)?)
        }
        SourceSettings::HidKeyboard(config) => {
            drop(scanner::HidKeyboardSource::new(config.clone()).map_err(fail)?);
        }
    }
    Ok(())
}

/// Starts the source of a configured scanner; it runs (reopening its device as needed) until
/// the task is aborted or nobody listens.
pub fn spawn(
    settings: &ScannerSettings,
    events: mpsc::Sender<ScannerEvent>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let fail = |e: scanner::ConfigError| anyhow::anyhow!("scanner {:?}: {e}", settings.name);
    Ok(match &settings.source {
        SourceSettings::Serial(config) => {
            let source = scanner::SerialSource::new(config.clone()).map_err(fail)?;
            tokio::spawn(source.run(events))
        }
        SourceSettings::HidPos(config) => {
            let source = scanner::HidPosSource::new(config.clone()).map_err(fail)?;
            tokio::spawn(source.run(events))
        }
        SourceSettings::HidKeyboard(config) => {
            let source = scanner::HidKeyboardSource::new(config.clone()).map_err(fail)?;
            tokio::spawn(source.run(events))
        }
    })
}
