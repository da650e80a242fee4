//! The real HID devices: hidraw nodes opened through hidapi, keyboards grabbed through evdev.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use evdev::raw_stream::RawDevice;
use hidapi::{HidApi, HidDevice};

use super::{DeviceOpener, Interface, Opened, ReportDevice};
use crate::device::{self, DetectedKind, DeviceId};

/// Opens the hidraw node of a configured HID scanner.
///
/// For USB ids it enumerates the HID devices and takes the first interface of that device
/// (and serial number) with the wanted usage: page 0x8C for HID POS (a scanner may also expose
/// a vendor interface with the same ids), generic desktop keyboard for a keyboard wedge. A path
/// (a udev symlink, or `/dev/hidrawN`) is opened as it is. With `grab`, the evdev nodes of the
/// same HID device are grabbed (`EVIOCGRAB`) for as long as the device is open.
#[derive(Debug, Clone)]
pub struct HidrawOpener {
    device: DeviceId,
    interface: Interface,
    grab: bool,
}

impl HidrawOpener {
    /// An opener for `device`'s `interface`; `grab` its input devices (keyboards).
    pub fn new(device: DeviceId, interface: Interface, grab: bool) -> Self {
        Self {
            device,
            interface,
            grab,
        }
    }

    /// The hidraw node to open: the configured path, or the matching interface's among those
    /// `api` enumerated.
    fn find(&self, api: &HidApi) -> io::Result<PathBuf> {
        if let DeviceId::Path(path) = &self.device {
            return Ok(path.clone());
        }
        choose(&self.device, self.interface, device::hid_devices_of(api))
    }
}

/// Of the HID collections enumerated, the node of `device`'s `interface`: a collection of that
/// device (and serial number) with the interface's usage, never a vendor collection of the
/// same device. The first in enumeration order wins.
fn choose(
    device: &DeviceId,
    interface: Interface,
    enumerated: Vec<device::Detected>,
) -> io::Result<PathBuf> {
    let wanted = match interface {
        Interface::Pos => DetectedKind::HidPos,
        Interface::Keyboard => DetectedKind::HidKeyboard,
    };
    enumerated
        .into_iter()
        .find(|found| found.kind == wanted && device::matches(device, found))
        .map(|found| found.path)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no {wanted} interface of {device} is plugged in"),
            )
        })
}

impl DeviceOpener for HidrawOpener {
    type Device = HidrawDevice;

    fn open(&self) -> io::Result<Opened<HidrawDevice>> {
        let api = HidApi::new().map_err(io::Error::other)?;
        let path = self.find(&api)?;
        let node = std::fs::canonicalize(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let c_path = CString::new(node.as_os_str().as_bytes())
            .map_err(|_| io::Error::other(format!("{}: NUL in path", node.display())))?;
        let hid = api.open_path(&c_path).map_err(io::Error::other)?;
        let label = if node == path && matches!(self.device, DeviceId::Path(_)) {
            node.display().to_string()
        } else {
            format!("{} ({})", self.device, node.display())
        };
        let (grabbed, warning) = if self.grab {
            grab(&node)
        } else {
            (Vec::new(), None)
        };
        Ok(Opened {
            device: HidrawDevice { hid, grabbed },
            label,
            warning,
        })
    }
}

/// Grabs the evdev nodes of the HID device behind the hidraw node `node`; returns them (the
/// grab lasts while they are open) and, if that failed, why.
fn grab(node: &Path) -> (Vec<RawDevice>, Option<String>) {
    let events = device::event_nodes(
        node,
        Path::new("/sys/class/hidraw"),
        Path::new("/dev/input"),
    );
    if events.is_empty() {
        let reason = format!(
            "cannot grab the keyboard {}: it has no input device, so its keystrokes may reach \
             the console",
            node.display()
        );
        return (Vec::new(), Some(reason));
    }
    let mut grabbed = Vec::with_capacity(events.len());
    let mut failures = Vec::new();
    for event in events {
        let result = RawDevice::open(&event).and_then(|mut input| {
            input.grab()?;
            Ok(input)
        });
        match result {
            Ok(input) => grabbed.push(input),
            Err(error) => failures.push(format!("{}: {error}", event.display())),
        }
    }
    let warning = (!failures.is_empty()).then(|| {
        format!(
            "cannot grab the keyboard {} ({}): its keystrokes may reach the console",
            node.display(),
            failures.join("; ")
        )
    });
    (grabbed, warning)
}

/// An open hidraw node, and the input devices grabbed for it.
pub struct HidrawDevice {
    hid: HidDevice,
    /// Kept open for the grab; never read.
    grabbed: Vec<RawDevice>,
}

impl fmt::Debug for HidrawDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HidrawDevice")
            .field("grabbed", &self.grabbed.len())
            .finish_non_exhaustive()
    }
}

impl ReportDevice for HidrawDevice {
    fn read_report(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        self.hid.read_timeout(buf, millis).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Detected, USAGE_PAGE_POS};

    /// A collection of a Honeywell scanner (0c2e:0b61) as hidapi enumerates it.
    fn collection(path: &str, usage_page: u16, usage: u16, serial: &str) -> Detected {
        Detected {
            kind: DetectedKind::of_hid(usage_page, usage),
            path: PathBuf::from(path),
            vendor_id: Some(0x0c2e),
            product_id: Some(0x0b61),
            serial: Some(serial.to_owned()),
            manufacturer: Some("Honeywell".to_owned()),
            product: Some("Xenon 1950g".to_owned()),
            usage_page: Some(usage_page),
            usage: Some(usage),
            interface: Some(0),
        }
    }

    fn scanner(serial: &str, first: u16) -> Vec<Detected> {
        vec![
            // The vendor collection comes first, with the same ids.
            collection(&format!("/dev/hidraw{first}"), 0xFF45, 0x01, serial),
            collection(
                &format!("/dev/hidraw{}", first + 1),
                USAGE_PAGE_POS,
                0x02,
                serial,
            ),
            collection(&format!("/dev/hidraw{}", first + 2), 0x01, 0x06, serial),
        ]
    }

    #[test]
    fn the_pos_collection_is_chosen_not_the_vendor_one_with_the_same_ids() {
        let id: DeviceId = "0c2e:0b61".parse().expect("id");
        assert_eq!(
            choose(&id, Interface::Pos, scanner("A1", 0)).expect("found"),
            PathBuf::from("/dev/hidraw1")
        );
        assert_eq!(
            choose(&id, Interface::Keyboard, scanner("A1", 0)).expect("found"),
            PathBuf::from("/dev/hidraw2")
        );
    }

    #[test]
    fn a_serial_number_picks_one_of_two_identical_scanners() {
        let mut both = scanner("A1", 0);
        both.extend(scanner("B2", 3));
        let id: DeviceId = "0c2e:0b61:B2".parse().expect("id");
        assert_eq!(
            choose(&id, Interface::Pos, both).expect("found"),
            PathBuf::from("/dev/hidraw4")
        );
    }

    #[test]
    fn a_device_without_the_interface_is_not_found_and_says_so() {
        let id: DeviceId = "0c2e:0b61".parse().expect("id");
        let vendor_only = vec![collection("/dev/hidraw0", 0xFF45, 0x01, "A1")];
        let error = choose(&id, Interface::Pos, vendor_only).expect_err("no POS collection");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("0c2e:0b61"), "{error}");
        let other = "05e0:1200".parse().expect("id");
        assert!(choose(&other, Interface::Pos, scanner("A1", 0)).is_err());
    }
}
