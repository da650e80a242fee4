//! The daemon's view of its scanners: their roles, and what each last reported.

use std::collections::BTreeMap;

use flow::ScannerRole;

/// A scanner's state change, as the register and `status` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerUpdate {
    /// The device is open.
    Connected {
        /// What was opened.
        device: String,
    },
    /// The device went away; the source keeps trying.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// The device sent something unusable; the source keeps reading.
    Error {
        /// What.
        reason: String,
    },
}

impl ScannerUpdate {
    /// The state change a scanner event carries; `None` for a scan.
    pub fn from_event(kind: scanner::ScannerEventKind) -> Option<Self> {
        match kind {
            scanner::ScannerEventKind::Connected { device } => Some(Self::Connected { device }),
            scanner::ScannerEventKind::Disconnected { reason } => {
                Some(Self::Disconnected { reason })
            }
            scanner::ScannerEventKind::Error { reason } => Some(Self::Error { reason }),
            scanner::ScannerEventKind::Scan(_) => None,
        }
    }

    /// The register event for this update.
    pub fn to_event(&self, scanner: &str) -> register::Event {
        match self {
            Self::Connected { device } => register::Event::scanner_connected(scanner, device),
            Self::Disconnected { reason } => register::Event::scanner_disconnected(scanner, reason),
            Self::Error { reason } => register::Event::scanner_error(scanner, reason),
        }
    }
}

/// Configured scanners with their last known state.
#[derive(Debug, Default, Clone)]
pub struct ScannerBoard {
    scanners: BTreeMap<String, (ScannerRole, String)>,
}

impl ScannerBoard {
    /// Adds a configured scanner, not yet connected.
    pub fn add(&mut self, name: &str, role: ScannerRole) {
        self.scanners
            .insert(name.to_owned(), (role, "waiting".to_owned()));
    }

    /// The role of a configured scanner.
    pub fn role(&self, name: &str) -> Option<ScannerRole> {
        self.scanners.get(name).map(|(role, _)| *role)
    }

    /// Records an update.
    pub fn update(&mut self, name: &str, update: &ScannerUpdate) {
        if let Some((_, state)) = self.scanners.get_mut(name) {
            *state = match update {
                ScannerUpdate::Connected { .. } => "connected",
                ScannerUpdate::Disconnected { .. } => "disconnected",
                // A garbled scan does not change whether the scanner is there.
                ScannerUpdate::Error { .. } => return,
            }
            .to_owned();
        }
    }

    /// (name, role, state) for every configured scanner.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ScannerRole, &str)> {
        self.scanners
            .iter()
            .map(|(name, (role, state))| (name.as_str(), *role, state.as_str()))
    }
}
