//! Which device a configured scanner is, and which scanners are plugged in.
//!
//! A scanner is configured by a [`DeviceId`]: its USB vendor and product id (and serial number,
//! to tell two of a model apart), or a device path, best a udev symlink such as
//! `/dev/loyaltyd/cashier`. [`discover`] lists the HID devices (through hidapi) and serial
//! ports (through sysfs) present now; [`matches()`] says whether one is the configured scanner.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tracing::warn;

/// HID usage page of point-of-sale devices (barcode scanners in HID POS mode).
pub const USAGE_PAGE_POS: u16 = 0x8C;
/// HID usage page of generic desktop controls.
pub const USAGE_PAGE_GENERIC_DESKTOP: u16 = 0x01;
/// Generic desktop usage of a keyboard.
pub const USAGE_KEYBOARD: u16 = 0x06;

/// How a configured scanner is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceId {
    /// A USB device by vendor and product id, and serial number when given.
    Usb {
        /// USB vendor id.
        vendor_id: u16,
        /// USB product id.
        product_id: u16,
        /// USB serial number (iSerialNumber), compared exactly.
        serial: Option<String>,
    },
    /// A device node, or a symlink to one (a udev rule's stable name).
    Path(PathBuf),
}

impl DeviceId {
    /// This id with a path's symlinks resolved (`/dev/loyaltyd/cashier` → `/dev/hidraw3`), as
    /// [`discover`] reports paths; unchanged for a USB id or a path that does not resolve.
    pub fn canonical(&self) -> DeviceId {
        match self {
            DeviceId::Path(path) => {
                DeviceId::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()))
            }
            usb => usb.clone(),
        }
    }
}

impl fmt::Display for DeviceId {
    /// As configured: `0c2e:0b61`, `0c2e:0b61:SERIAL` or the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceId::Usb {
                vendor_id,
                product_id,
                serial,
            } => {
                write!(f, "{vendor_id:04x}:{product_id:04x}")?;
                match serial {
                    Some(serial) => write!(f, ":{serial}"),
                    None => Ok(()),
                }
            }
            DeviceId::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Configuration text that is not a [`DeviceId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDeviceIdError {
    /// Neither an absolute path nor colon-separated ids.
    #[error(
        "device {input:?}: expected VID:PID, VID:PID:SERIAL (hex ids, e.g. 0c2e:0b61) or an \
         absolute path (e.g. /dev/loyaltyd/cashier)"
    )]
    Malformed {
        /// The text given.
        input: String,
    },
    /// A vendor or product id that is not 1–4 hex digits.
    #[error("device {input:?}: {id:?} is not a USB id (1 to 4 hex digits, e.g. 0c2e)")]
    BadId {
        /// The text given.
        input: String,
        /// The offending part.
        id: String,
    },
    /// `VID:PID:` with nothing after the second colon.
    #[error("device {input:?}: the serial number after the second colon is empty")]
    EmptySerial {
        /// The text given.
        input: String,
    },
}

impl FromStr for DeviceId {
    type Err = ParseDeviceIdError;

    /// Parses `VID:PID`, `VID:PID:SERIAL` (ids in hex, `0c2e:0b61`; the serial number is the
    /// rest, colons included) or an absolute path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with('/') {
            return Ok(DeviceId::Path(PathBuf::from(s)));
        }
        let mut parts = s.splitn(3, ':');
        let (Some(vendor), Some(product)) = (parts.next(), parts.next()) else {
            return Err(ParseDeviceIdError::Malformed {
                input: s.to_owned(),
            });
        };
        let id = |part: &str| {
            let hex = (1..=4).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit());
            hex.then(|| u16::from_str_radix(part, 16).ok())
                .flatten()
                .ok_or_else(|| ParseDeviceIdError::BadId {
                    input: s.to_owned(),
                    id: part.to_owned(),
                })
        };
        let vendor_id = id(vendor)?;
        let product_id = id(product)?;
        let serial = match parts.next() {
            None => None,
            Some("") => {
                return Err(ParseDeviceIdError::EmptySerial {
                    input: s.to_owned(),
                });
            }
            Some(serial) => Some(serial.to_owned()),
        };
        Ok(DeviceId::Usb {
            vendor_id,
            product_id,
            serial,
        })
    }
}

/// What a detected device looks like it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectedKind {
    /// A HID interface with usage page 0x8C: a scanner in HID POS mode.
    HidPos,
    /// A HID keyboard (usage page 1, usage 6): maybe a scanner in keyboard mode.
    HidKeyboard,
    /// Another HID interface.
    HidOther,
    /// A serial port (a USB CDC-ACM or USB-serial scanner, or a UART).
    Serial,
}

impl DetectedKind {
    /// The kind's name: `hid-pos`, `hid-keyboard`, `hid`, `serial`.
    pub fn name(self) -> &'static str {
        match self {
            DetectedKind::HidPos => "hid-pos",
            DetectedKind::HidKeyboard => "hid-keyboard",
            DetectedKind::HidOther => "hid",
            DetectedKind::Serial => "serial",
        }
    }

    /// The kind of a HID top-level collection with this usage page and usage.
    pub fn of_hid(usage_page: u16, usage: u16) -> DetectedKind {
        match (usage_page, usage) {
            (USAGE_PAGE_POS, _) => DetectedKind::HidPos,
            (USAGE_PAGE_GENERIC_DESKTOP, USAGE_KEYBOARD) => DetectedKind::HidKeyboard,
            _ => DetectedKind::HidOther,
        }
    }
}

impl fmt::Display for DetectedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A device found by [`discover`]. A HID device appears once per top-level collection (usage
/// page and usage), so a scanner with a POS and a vendor interface appears more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// What it looks like.
    pub kind: DetectedKind,
    /// Its device node: `/dev/hidraw3`, `/dev/ttyACM0`.
    pub path: PathBuf,
    /// USB vendor id (`None` for a serial port that is not on USB).
    pub vendor_id: Option<u16>,
    /// USB product id.
    pub product_id: Option<u16>,
    /// Serial number, when the device has one.
    pub serial: Option<String>,
    /// Manufacturer string.
    pub manufacturer: Option<String>,
    /// Product string.
    pub product: Option<String>,
    /// HID usage page of this collection.
    pub usage_page: Option<u16>,
    /// HID usage of this collection.
    pub usage: Option<u16>,
    /// USB interface number.
    pub interface: Option<i32>,
}

impl Detected {
    /// A device of this kind at this path, nothing else known yet.
    fn new(kind: DetectedKind, path: PathBuf) -> Self {
        Self {
            kind,
            path,
            vendor_id: None,
            product_id: None,
            serial: None,
            manufacturer: None,
            product: None,
            usage_page: None,
            usage: None,
            interface: None,
        }
    }
}

/// Whether `detected` is the scanner configured as `id`. Pure: a path compares as it is, so
/// pass [`DeviceId::canonical`] to match a symlink.
pub fn matches(id: &DeviceId, detected: &Detected) -> bool {
    match id {
        DeviceId::Usb {
            vendor_id,
            product_id,
            serial,
        } => {
            detected.vendor_id == Some(*vendor_id)
                && detected.product_id == Some(*product_id)
                && serial
                    .as_deref()
                    .is_none_or(|serial| detected.serial.as_deref() == Some(serial))
        }
        DeviceId::Path(path) => detected.path == *path,
    }
}

/// The HID devices and serial ports present now. Never fails: what cannot be listed (no
/// hidraw at all, no sysfs) is simply not there.
pub fn discover() -> Vec<Detected> {
    let mut found = hid_devices();
    found.extend(serial_ports(Path::new("/sys/class/tty"), Path::new("/dev")));
    found
}

/// The HID devices hidapi enumerates (hidraw nodes, per top-level collection).
fn hid_devices() -> Vec<Detected> {
    match hidapi::HidApi::new() {
        Ok(api) => hid_devices_of(&api),
        Err(error) => {
            warn!(%error, "cannot list HID devices");
            Vec::new()
        }
    }
}

/// The HID devices `api` enumerated when it was created.
pub(crate) fn hid_devices_of(api: &hidapi::HidApi) -> Vec<Detected> {
    api.device_list()
        .map(|info| {
            use std::os::unix::ffi::OsStrExt;
            Detected {
                kind: DetectedKind::of_hid(info.usage_page(), info.usage()),
                path: PathBuf::from(std::ffi::OsStr::from_bytes(info.path().to_bytes())),
                vendor_id: Some(info.vendor_id()),
                product_id: Some(info.product_id()),
                serial: non_empty(info.serial_number()),
                manufacturer: non_empty(info.manufacturer_string()),
                product: non_empty(info.product_string()),
                usage_page: Some(info.usage_page()),
                usage: Some(info.usage()),
                interface: (info.interface_number() >= 0).then_some(info.interface_number()),
            }
        })
        .collect()
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The serial ports under `class_tty` (`/sys/class/tty`): ttys backed by a device (virtual
/// consoles and ptys are not), except 8250 port slots without a UART (`type` 0). The device
/// node is `dev`/name; USB ids come from the USB device above the tty in sysfs.
pub(crate) fn serial_ports(class_tty: &Path, dev: &Path) -> Vec<Detected> {
    let Ok(entries) = std::fs::read_dir(class_tty) else {
        return Vec::new();
    };
    let mut ports: Vec<Detected> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let tty = entry.path();
            let device = std::fs::canonicalize(tty.join("device")).ok()?;
            if read_attr(&tty, "type").as_deref() == Some("0") {
                return None;
            }
            let mut port = Detected::new(DetectedKind::Serial, dev.join(entry.file_name()));
            add_usb_attributes(&mut port, &device);
            Some(port)
        })
        .collect();
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    ports
}

/// Fills in USB ids, strings and interface number from the sysfs directories above `device`
/// (the USB interface, then the USB device with `idVendor`), if it is on USB.
fn add_usb_attributes(port: &mut Detected, device: &Path) {
    for dir in device.ancestors().take(6) {
        if port.interface.is_none() {
            port.interface =
                read_attr(dir, "bInterfaceNumber").and_then(|n| i32::from_str_radix(&n, 16).ok());
        }
        let hex = |name| read_attr(dir, name).and_then(|v| u16::from_str_radix(&v, 16).ok());
        if let (Some(vendor), Some(product)) = (hex("idVendor"), hex("idProduct")) {
            port.vendor_id = Some(vendor);
            port.product_id = Some(product);
            port.serial = read_attr(dir, "serial");
            port.manufacturer = read_attr(dir, "manufacturer");
            port.product = read_attr(dir, "product");
            return;
        }
    }
}

/// A sysfs attribute, trimmed; `None` when missing or empty.
fn read_attr(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    non_empty(Some(&text))
}

/// The evdev nodes (`/dev/input/eventN`) the kernel made for the same HID device as the hidraw
/// node `hidraw` (`/dev/hidrawN`), found in `class_hidraw` (`/sys/class/hidraw`).
pub(crate) fn event_nodes(hidraw: &Path, class_hidraw: &Path, dev_input: &Path) -> Vec<PathBuf> {
    let Some(name) = hidraw.file_name() else {
        return Vec::new();
    };
    let inputs = class_hidraw.join(name).join("device").join("input");
    let Ok(inputs) = std::fs::read_dir(inputs) else {
        return Vec::new();
    };
    let mut nodes: Vec<PathBuf> = inputs
        .filter_map(Result::ok)
        .filter_map(|input| std::fs::read_dir(input.path()).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .filter(|name| name.to_string_lossy().starts_with("event"))
        .map(|name| dev_input.join(name))
        .collect();
    nodes.sort();
    nodes
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn usb(vendor_id: u16, product_id: u16, serial: Option<&str>) -> DeviceId {
        DeviceId::Usb {
            vendor_id,
            product_id,
            serial: serial.map(str::to_owned),
        }
    }

    #[test]
    fn device_ids_parse_and_print_back() {
        for (text, id) in [
            ("0c2e:0b61", usb(0x0c2e, 0x0b61, None)),
            ("0C2E:B61", usb(0x0c2e, 0x0b61, None)),
            ("05e0:1200:S/N:42", usb(0x05e0, 0x1200, Some("S/N:42"))),
            ("/dev/hidraw3", DeviceId::Path("/dev/hidraw3".into())),
            (
                "/dev/loyaltyd/cashier",
                DeviceId::Path("/dev/loyaltyd/cashier".into()),
            ),
        ] {
            assert_eq!(text.parse::<DeviceId>(), Ok(id.clone()), "{text}");
            assert_eq!(id.to_string().parse::<DeviceId>(), Ok(id), "{text}");
        }
        assert_eq!(usb(0x0c2e, 0x0b61, None).to_string(), "0c2e:0b61");
    }

    #[test]
    fn bad_device_ids_say_what_is_expected() {
        let err = |text: &str| {
            text.parse::<DeviceId>()
                .expect_err("not a device id")
                .to_string()
        };
        assert_eq!(
            err("hidraw3"),
            "device \"hidraw3\": expected VID:PID, VID:PID:SERIAL (hex ids, e.g. 0c2e:0b61) or \
             an absolute path (e.g. /dev/loyaltyd/cashier)"
        );
        assert!(err("").contains("expected VID:PID"));
        assert_eq!(
            err("0c2e:0bx1"),
            "device \"0c2e:0bx1\": \"0bx1\" is not a USB id (1 to 4 hex digits, e.g. 0c2e)"
        );
        assert!(err("10c2e:0b61").contains("\"10c2e\" is not a USB id"));
        assert!(err(":0b61").contains("\"\" is not a USB id"));
        assert!(err("+c2e:0b61").contains("\"+c2e\" is not a USB id"));
        assert_eq!(
            err("0c2e:0b61:"),
            "device \"0c2e:0b61:\": the serial number after the second colon is empty"
        );
    }

    #[test]
    fn matching_by_usb_ids_serial_and_path() {
        let scanner = Detected {
            vendor_id: Some(0x0c2e),
            product_id: Some(0x0b61),
            serial: Some("A1".to_owned()),
            ..Detected::new(DetectedKind::HidPos, "/dev/hidraw3".into())
        };
        assert!(matches(&usb(0x0c2e, 0x0b61, None), &scanner));
        assert!(matches(&usb(0x0c2e, 0x0b61, Some("A1")), &scanner));
        assert!(!matches(&usb(0x0c2e, 0x0b61, Some("A2")), &scanner));
        assert!(!matches(&usb(0x0c2e, 0x0b62, None), &scanner));
        assert!(!matches(&usb(0x0c2f, 0x0b61, None), &scanner));
        assert!(matches(&DeviceId::Path("/dev/hidraw3".into()), &scanner));
        assert!(!matches(&DeviceId::Path("/dev/hidraw4".into()), &scanner));
        let uart = Detected::new(DetectedKind::Serial, "/dev/ttyAMA0".into());
        assert!(!matches(&usb(0x0c2e, 0x0b61, None), &uart));
        assert!(matches(&DeviceId::Path("/dev/ttyAMA0".into()), &uart));
        let no_serial = Detected {
            serial: None,
            ..scanner
        };
        assert!(!matches(&usb(0x0c2e, 0x0b61, Some("A1")), &no_serial));
    }

    #[test]
    fn canonical_resolves_symlinks() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let node = dir.path().join("hidraw3");
        std::fs::write(&node, b"").expect("fake node");
        let link = dir.path().join("cashier");
        symlink(&node, &link).expect("symlink");
        let node = std::fs::canonicalize(&node).expect("canonical node");
        assert_eq!(
            DeviceId::Path(link).canonical(),
            DeviceId::Path(node.clone())
        );
        let missing = DeviceId::Path(dir.path().join("missing"));
        assert_eq!(missing.canonical(), missing);
        assert_eq!(usb(1, 2, None).canonical(), usb(1, 2, None));
    }

    #[test]
    fn hid_kinds_come_from_the_usage_page() {
        assert_eq!(DetectedKind::of_hid(0x8C, 0x02), DetectedKind::HidPos);
        assert_eq!(DetectedKind::of_hid(0x01, 0x06), DetectedKind::HidKeyboard);
        assert_eq!(DetectedKind::of_hid(0x01, 0x02), DetectedKind::HidOther);
        assert_eq!(DetectedKind::of_hid(0xFF00, 0x01), DetectedKind::HidOther);
    }

    /// Writes a sysfs attribute file.
    fn attr(dir: &Path, name: &str, value: &str) {
        std::fs::create_dir_all(dir).expect("sysfs directory");
        std::fs::write(dir.join(name), format!("{value}\n")).expect("sysfs attribute");
    }

    #[test]
    fn serial_ports_are_read_from_sysfs() {
        let root = tempfile::tempdir().expect("temporary directory");
        let sys = root.path();
        // A USB CDC-ACM scanner: tty -> interface 1-1:1.0 -> device 1-1.
        let usb_device = sys.join("devices/usb1/1-1");
        attr(&usb_device, "idVendor", "0c2e");
        attr(&usb_device, "idProduct", "0b61");
        attr(&usb_device, "serial", "19076B4F26");
        attr(&usb_device, "manufacturer", "Honeywell");
        attr(&usb_device, "product", "Voyager 1470g");
        let interface = usb_device.join("1-1:1.0");
        attr(&interface, "bInterfaceNumber", "00");
        // A USB-serial adapter: tty -> port ttyUSB0 -> interface 1-2:1.1 -> device 1-2.
        let adapter = sys.join("devices/usb1/1-2");
        attr(&adapter, "idVendor", "0403");
        attr(&adapter, "idProduct", "6001");
        attr(&adapter.join("1-2:1.1"), "bInterfaceNumber", "0a");
        std::fs::create_dir_all(adapter.join("1-2:1.1/ttyUSB0")).expect("port");
        // A UART, an empty 8250 slot, a virtual console.
        std::fs::create_dir_all(sys.join("devices/platform/serial8250")).expect("platform");
        let class = sys.join("class/tty");
        for (name, device, kind) in [
            ("ttyACM0", Some(interface.clone()), None),
            ("ttyUSB0", Some(adapter.join("1-2:1.1/ttyUSB0")), None),
            (
                "ttyS0",
                Some(sys.join("devices/platform/serial8250")),
                Some("4"),
            ),
            (
                "ttyS1",
                Some(sys.join("devices/platform/serial8250")),
                Some("0"),
            ),
            ("tty1", None, None),
        ] {
            let tty = class.join(name);
            std::fs::create_dir_all(&tty).expect("tty");
            if let Some(device) = device {
                symlink(device, tty.join("device")).expect("device link");
            }
            if let Some(kind) = kind {
                attr(&tty, "type", kind);
            }
        }
        let ports = serial_ports(&class, Path::new("/dev"));
        assert_eq!(
            ports,
            [
                Detected {
                    vendor_id: Some(0x0c2e),
                    product_id: Some(0x0b61),
                    serial: Some("19076B4F26".to_owned()),
                    manufacturer: Some("Honeywell".to_owned()),
                    product: Some("Voyager 1470g".to_owned()),
                    interface: Some(0),
                    ..Detected::new(DetectedKind::Serial, "/dev/ttyACM0".into())
                },
                Detected::new(DetectedKind::Serial, "/dev/ttyS0".into()),
                Detected {
                    vendor_id: Some(0x0403),
                    product_id: Some(0x6001),
                    interface: Some(10),
                    ..Detected::new(DetectedKind::Serial, "/dev/ttyUSB0".into())
                },
            ]
        );
        let id: DeviceId = "0c2e:0b61:19076B4F26".parse().expect("device id");
        assert!(matches(&id, &ports[0]));
        assert!(serial_ports(&sys.join("missing"), Path::new("/dev")).is_empty());
    }

    #[test]
    fn event_nodes_of_a_hidraw_node_come_from_sysfs() {
        let root = tempfile::tempdir().expect("temporary directory");
        let class = root.path().join("class/hidraw");
        let hid = root.path().join("devices/0003:0C2E:0B61.0005");
        for node in [
            "input/input7/event4",
            "input/input8/event5",
            "input/input7/mouse0",
        ] {
            std::fs::create_dir_all(hid.join(node)).expect("input node");
        }
        std::fs::create_dir_all(class.join("hidraw3")).expect("hidraw");
        symlink(&hid, class.join("hidraw3/device")).expect("device link");
        let dev_input = Path::new("/dev/input");
        assert_eq!(
            event_nodes(Path::new("/dev/hidraw3"), &class, dev_input),
            [
                PathBuf::from("/dev/input/event4"),
                PathBuf::from("/dev/input/event5")
            ]
        );
        assert!(event_nodes(Path::new("/dev/hidraw9"), &class, dev_input).is_empty());
    }

    #[test]
    fn discovery_works_on_this_machine_even_without_hidraw() {
        // The build machine has no /dev/hidraw at all: listing must still work, and what it
        // lists must be consistent.
        for device in discover() {
            assert!(device.path.starts_with("/dev"), "{device:?}");
            match (device.usage_page, device.usage) {
                (Some(page), Some(usage)) => {
                    assert_eq!(device.kind, DetectedKind::of_hid(page, usage), "{device:?}");
                }
                _ => assert_eq!(device.kind, DetectedKind::Serial, "{device:?}"),
            }
        }
    }
}
