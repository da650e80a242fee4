//! The `devices` tables: configured scanners, then the devices that could be scanners.

use register::DevicesReply;
use register::devices::{DetectedDevice, ScannerConnection};

use crate::format::Table;

/// Two tables, or a line saying there is nothing, for each part.
pub fn describe(devices: &DevicesReply) -> String {
    let mut out = String::new();
    if devices.scanners.is_empty() {
        out.push_str("no scanners configured\n");
    } else {
        let mut table = Table::new(&["SCANNER", "ROLE", "KIND", "IDENTITY", "STATE", "DETAIL"]);
        for scanner in &devices.scanners {
            let (state, detail) = match &scanner.connection {
                ScannerConnection::Connected { device } => ("connected", device.as_str()),
                ScannerConnection::Disconnected { reason } => ("disconnected", reason.as_str()),
                ScannerConnection::Waiting { reason } => {
                    ("waiting", reason.as_deref().unwrap_or("-"))
                }
            };
            table.row(vec![
                scanner.name.clone(),
                role(scanner.role).to_owned(),
                scanner.kind.to_string(),
                scanner.identity.clone(),
                state.to_owned(),
                detail.to_owned(),
            ]);
        }
        out.push_str(&table.render());
    }
    out.push('\n');
    if devices.detected.is_empty() {
        out.push_str("no scanner-like devices detected\n");
    } else {
        let mut table = Table::new(&[
            "DEVICE",
            "KIND",
            "USB ID",
            "SERIAL",
            "PRODUCT",
            "CONFIGURED AS",
        ]);
        for device in &devices.detected {
            table.row(vec![
                device.path.clone(),
                device.kind.to_string(),
                usb_id(device),
                dash(device.serial.as_deref()),
                product(device),
                dash(device.configured_as.as_deref()),
            ]);
        }
        out.push_str(&table.render());
    }
    out
}

fn role(role: register::event::Role) -> &'static str {
    match role {
        register::event::Role::Cashier => "cashier",
        register::event::Role::Customer => "customer",
    }
}

/// `0c2e:0b61`, as a scanner's identity is written in the configuration.
fn usb_id(device: &DetectedDevice) -> String {
    match (device.vendor_id, device.product_id) {
        (Some(vendor), Some(product)) => format!("{vendor:04x}:{product:04x}"),
        _ => "-".to_owned(),
    }
}

/// `Honeywell Xenon 1900`.
fn product(device: &DetectedDevice) -> String {
    let names: Vec<&str> = [device.manufacturer.as_deref(), device.product.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(" ")
    }
}

fn dash(text: Option<&str>) -> String {
    text.unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use register::devices::{ConfiguredScanner, ScannerKind};
    use register::event::Role;

    #[test]
    fn shows_configured_scanners_and_detected_devices() {
        let devices = DevicesReply {
            scanners: vec![
                ConfiguredScanner {
                    name: "till".to_owned(),
                    role: Role::Cashier,
                    kind: ScannerKind::Serial,
                    identity: "/dev/loyaltyd/cashier".to_owned(),
                    connection: ScannerConnection::Connected {
                        device: "/dev/ttyACM0".to_owned(),
                    },
                },
                ConfiguredScanner {
                    name: "front".to_owned(),
                    role: Role::Customer,
                    kind: ScannerKind::HidPos,
                    identity: "0c2e:0b61".to_owned(),
                    connection: ScannerConnection::Waiting {
                        reason: Some("no device matches 0c2e:0b61".to_owned()),
                    },
                },
            ],
            detected: vec![
                DetectedDevice {
                    vendor_id: Some(0x05e0),
                    product_id: Some(0x1701),
                    product: Some("Symbol Bar Code Scanner".to_owned()),
                    configured_as: Some("till".to_owned()),
                    ..DetectedDevice::new(ScannerKind::Serial, "/dev/ttyACM0")
                },
                DetectedDevice::new(ScannerKind::Serial, "/dev/ttyAMA0"),
            ],
        };
        assert_eq!(
            describe(&devices),
            "SCANNER  ROLE      KIND     IDENTITY               STATE      DETAIL\n\
             till     cashier   serial   /dev/loyaltyd/cashier  connected  /dev/ttyACM0\n\
             front    customer  hid-pos  0c2e:0b61              waiting    no device matches 0c2e:0b61\n\
             \n\
             DEVICE        KIND    USB ID     SERIAL  PRODUCT                  CONFIGURED AS\n\
             /dev/ttyACM0  serial  05e0:1701  -       Symbol Bar Code Scanner  till\n\
             /dev/ttyAMA0  serial  -          -       -                        -\n"
        );
    }

    #[test]
    fn says_when_there_is_nothing() {
        assert_eq!(
            describe(&DevicesReply::default()),
            "no scanners configured\n\nno scanner-like devices detected\n"
        );
    }
}
