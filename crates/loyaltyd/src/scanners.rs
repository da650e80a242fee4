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

/// One configured scanner, as the board knows it.
#[derive(Debug, Clone)]
struct Entry {
    role: ScannerRole,
    kind: register::devices::ScannerKind,
    /// The configured identity, as written (`/dev/loyaltyd/cashier`, `0c2e:0b61`).
    identity: String,
    connection: register::devices::ScannerConnection,
}

/// Configured scanners with their last known state.
#[derive(Debug, Default, Clone)]
pub struct ScannerBoard {
    scanners: BTreeMap<String, Entry>,
}

impl ScannerBoard {
    /// Adds a configured scanner, not yet connected.
    pub fn add(
        &mut self,
        name: &str,
        role: ScannerRole,
        kind: register::devices::ScannerKind,
        identity: impl Into<String>,
    ) {
        self.scanners.insert(
            name.to_owned(),
            Entry {
                role,
                kind,
                identity: identity.into(),
                connection: register::devices::ScannerConnection::Waiting { reason: None },
            },
        );
    }

    /// The role of a configured scanner.
    pub fn role(&self, name: &str) -> Option<ScannerRole> {
        self.scanners.get(name).map(|entry| entry.role)
    }

    /// Records an update.
    pub fn update(&mut self, name: &str, update: &ScannerUpdate) {
        let Some(entry) = self.scanners.get_mut(name) else {
            return;
        };
        entry.connection = match (update, &entry.connection) {
            (ScannerUpdate::Connected { device }, _) => {
                register::devices::ScannerConnection::Connected {
                    device: device.clone(),
                }
            }
            // Never opened yet: still waiting, now with a reason.
            (
                ScannerUpdate::Disconnected { reason },
                register::devices::ScannerConnection::Waiting { .. },
            ) => register::devices::ScannerConnection::Waiting {
                reason: Some(reason.clone()),
            },
            (ScannerUpdate::Disconnected { reason }, _) => {
                register::devices::ScannerConnection::Disconnected {
                    reason: reason.clone(),
                }
            }
            // A garbled scan does not change whether the scanner is there.
            (ScannerUpdate::Error { .. }, _) => return,
        };
    }

    /// (name, role, state) for every configured scanner; state is `waiting`, `connected` or
    /// `disconnected`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ScannerRole, &'static str)> {
        self.scanners.iter().map(|(name, entry)| {
            let state = match entry.connection {
                register::devices::ScannerConnection::Connected { .. } => "connected",
                register::devices::ScannerConnection::Disconnected { .. } => "disconnected",
                register::devices::ScannerConnection::Waiting { .. } => "waiting",
            };
            (name.as_str(), entry.role, state)
        })
    }

    /// The `devices` reply: the configured scanners, and the devices found now (`detected`, from
    /// [`scanner::discover`]), each marked with the configured scanner it is, if any.
    pub fn devices(&self, detected: Vec<scanner::Detected>) -> register::DevicesReply {
        let scanners = self
            .scanners
            .iter()
            .map(|(name, entry)| register::devices::ConfiguredScanner {
                name: name.clone(),
                role: entry.role.into(),
                kind: entry.kind,
                identity: entry.identity.clone(),
                connection: entry.connection.clone(),
            })
            .collect();
        // A USB scanner may show several interfaces with one VID:PID (HID POS, keyboard, a
        // serial port): a configured scanner is the device of its own kind only.
        let ids: Vec<(
            &str,
            register::devices::ScannerKind,
            Option<scanner::DeviceId>,
        )> = self
            .scanners
            .iter()
            .map(|(name, entry)| {
                let id = entry
                    .identity
                    .parse::<scanner::DeviceId>()
                    .ok()
                    .map(|id| id.canonical());
                (name.as_str(), entry.kind, id)
            })
            .collect();
        let detected = detected
            .into_iter()
            .filter_map(|device| {
                let kind = match device.kind {
                    scanner::DetectedKind::HidPos => register::devices::ScannerKind::HidPos,
                    scanner::DetectedKind::HidKeyboard => {
                        register::devices::ScannerKind::HidKeyboard
                    }
                    scanner::DetectedKind::Serial => register::devices::ScannerKind::Serial,
                    // A mouse or a vendor interface: not something a scanner can be read from.
                    scanner::DetectedKind::HidOther => return None,
                };
                let configured_as = ids
                    .iter()
                    .find(|(_, configured, id)| {
                        *configured == kind
                            && id.as_ref().is_some_and(|id| scanner::matches(id, &device))
                    })
                    .map(|(name, _, _)| (*name).to_owned());
                let mut out =
                    register::devices::DetectedDevice::new(kind, device.path.display().to_string());
                out.vendor_id = device.vendor_id;
                out.product_id = device.product_id;
                out.serial = device.serial;
                out.manufacturer = device.manufacturer;
                out.product = device.product;
                out.usage_page = device.usage_page;
                out.configured_as = configured_as;
                Some(out)
            })
            .collect();
        register::DevicesReply { scanners, detected }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use register::devices::ScannerKind;

    use super::*;

    fn detected(kind: scanner::DetectedKind, path: &str) -> scanner::Detected {
        scanner::Detected {
            kind,
            path: PathBuf::from(path),
            vendor_id: Some(0x0c2e),
            product_id: Some(0x0b61),
            serial: None,
            manufacturer: Some("Honeywell".to_owned()),
            product: Some("Xenon".to_owned()),
            usage_page: None,
            usage: None,
            interface: None,
        }
    }

    #[test]
    fn a_configured_scanner_is_only_the_device_of_its_own_kind() {
        let mut board = ScannerBoard::default();
        board.add(
            "cashier",
            ScannerRole::Cashier,
            ScannerKind::HidPos,
            "0c2e:0b61",
        );
        // One scanner, three interfaces with the same USB id.
        let reply = board.devices(vec![
            detected(scanner::DetectedKind::HidPos, "/dev/hidraw1"),
            detected(scanner::DetectedKind::HidKeyboard, "/dev/hidraw2"),
            detected(scanner::DetectedKind::Serial, "/dev/ttyACM0"),
            detected(scanner::DetectedKind::HidOther, "/dev/hidraw3"),
        ]);
        let configured: Vec<(String, Option<String>)> = reply
            .detected
            .iter()
            .map(|d| (d.path.clone(), d.configured_as.clone()))
            .collect();
        assert_eq!(
            configured,
            [
                ("/dev/hidraw1".to_owned(), Some("cashier".to_owned())),
                ("/dev/hidraw2".to_owned(), None),
                ("/dev/ttyACM0".to_owned(), None),
            ],
            "the vendor interface is left out; only the HID POS interface is the scanner"
        );
        assert_eq!(reply.scanners.len(), 1);
        assert_eq!(reply.scanners[0].kind, ScannerKind::HidPos);
    }
}
