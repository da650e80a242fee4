//! The `devices` reply: the configured scanners and their state, and the scanner-like devices
//! loyaltyd can see, for an installer matching configuration to hardware.

use serde::{Deserialize, Serialize};

use crate::event::Role;
use crate::names::wire_names;

wire_names! {
    /// How loyaltyd talks to a scanner (the configuration's `kind`).
    pub enum ScannerKind ("scanner kind") {
        /// A serial port (RS-232, or USB CDC-ACM: `/dev/ttyACM0`).
        Serial = "serial",
        /// USB HID POS (usage page 0x8C).
        HidPos = "hid-pos",
        /// USB HID keyboard wedge: the scanner types.
        HidKeyboard = "hid-keyboard",
    }
}

/// The `result` of `devices`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicesReply {
    /// Every configured scanner, in configuration order.
    pub scanners: Vec<ConfiguredScanner>,
    /// The devices found on the system that could be scanners, configured or not.
    pub detected: Vec<DetectedDevice>,
}

/// A configured scanner and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguredScanner {
    /// Its configured name.
    pub name: String,
    /// Whose scanner it is.
    pub role: Role,
    /// How loyaltyd talks to it.
    pub kind: ScannerKind,
    /// How the configuration identifies it: a path (`/dev/loyaltyd/cashier`), `VID:PID`
    /// (`0c2e:0b61`) or `VID:PID:SERIAL`.
    pub identity: String,
    /// Whether it is open, with the device or the reason.
    #[serde(flatten)]
    pub connection: ScannerConnection,
}

/// A configured scanner's `state`, with what goes with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ScannerConnection {
    /// Open and reading.
    Connected {
        /// The device that was opened (`/dev/ttyACM0`, `/dev/hidraw2`).
        device: String,
    },
    /// It was open and went away; loyaltyd keeps trying to reopen it.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// Not opened yet since loyaltyd started.
    Waiting {
        /// Why, when known (`no device matches 0c2e:0b61`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// A device that could be a scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedDevice {
    /// What kind of scanner it would be.
    pub kind: ScannerKind,
    /// Its device path (`/dev/hidraw0`, `/dev/ttyACM0`).
    pub path: String,
    /// USB vendor id, as 4 hex digits on the wire (`0c2e`); absent for a device that is not USB
    /// (a built-in serial port).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex::id")]
    pub vendor_id: Option<u16>,
    /// USB product id, as 4 hex digits on the wire (`0b61`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex::id")]
    pub product_id: Option<u16>,
    /// USB serial number, when the device has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The manufacturer's name, when the device reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// The product's name, when the device reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// HID devices: the interface's usage page, as `0x` and hex on the wire (`0x8c`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "hex::usage_page"
    )]
    pub usage_page: Option<u16>,
    /// The name of the configured scanner this device is, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_as: Option<String>,
}

impl DetectedDevice {
    /// A device of `kind` at `path`, with nothing else known yet; set the other fields as known.
    pub fn new(kind: ScannerKind, path: impl Into<String>) -> Self {
        Self {
            kind,
            path: path.into(),
            vendor_id: None,
            product_id: None,
            serial: None,
            manufacturer: None,
            product: None,
            usage_page: None,
            configured_as: None,
        }
    }
}

/// USB ids and HID usage pages as hex text.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    fn parse<E: serde::de::Error>(digits: &str, original: &str) -> Result<u16, E> {
        let valid =
            (1..=4).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit());
        valid
            .then(|| u16::from_str_radix(digits, 16).ok())
            .flatten()
            .ok_or_else(|| E::custom(format!("{original:?} is not a 16-bit hex number")))
    }

    /// `0c2e`.
    pub mod id {
        use super::*;

        pub fn serialize<S: Serializer>(id: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => s.serialize_some(&format!("{id:04x}")),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| parse(&text, &text))
                .transpose()
        }
    }

    /// `0x8c`.
    pub mod usage_page {
        use super::*;

        pub fn serialize<S: Serializer>(page: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
            match page {
                Some(page) => s.serialize_some(&format!("{page:#04x}")),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| match text.strip_prefix("0x") {
                    Some(digits) => parse(digits, &text),
                    None => Err(serde::de::Error::custom(format!(
                        "{text:?} is not a usage page like 0x8c"
                    ))),
                })
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_fields_round_trip_and_refuse_what_is_not_hex() {
        let device = DetectedDevice {
            vendor_id: Some(0x0c2e),
            product_id: Some(0x0b61),
            usage_page: Some(0x8c),
            ..DetectedDevice::new(ScannerKind::HidPos, "/dev/hidraw0")
        };
        let json = serde_json::to_string(&device).expect("serializes");
        assert_eq!(
            json,
            r#"{"kind":"hid-pos","path":"/dev/hidraw0","vendorId":"0c2e","productId":"0b61","usagePage":"0x8c"}"#
        );
        assert_eq!(
            serde_json::from_str::<DetectedDevice>(&json).expect("parses"),
            device
        );
        let page = |p: u16| {
            serde_json::to_value(DetectedDevice {
                usage_page: Some(p),
                ..DetectedDevice::new(ScannerKind::HidKeyboard, "/dev/hidraw1")
            })
            .expect("serializes")["usagePage"]
                .clone()
        };
        assert_eq!(page(1), "0x01");
        assert_eq!(page(0xff00), "0xff00");
        for bad in [
            r#""vendorId":"0c2e1""#,
            r#""vendorId":"zz""#,
            r#""vendorId":"""#,
            r#""vendorId":"+c2e""#,
            r#""usagePage":"8c""#,
            r#""usagePage":"0x""#,
        ] {
            let json = format!(r#"{{"kind":"serial","path":"/dev/ttyS0",{bad}}}"#);
            assert!(
                serde_json::from_str::<DetectedDevice>(&json).is_err(),
                "{json}"
            );
        }
    }
}
