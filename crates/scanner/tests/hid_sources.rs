//! The HID sources' read loops, fed recorded reports through a fake device: scans, errors,
//! unplug and replug, a scanner missing at start, and stopping.

mod common;

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scanner::device::DeviceId;
use scanner::hid::{
    DeviceOpener, HidKeyboardConfig, HidKeyboardSource, HidPosConfig, HidPosSource, Opened,
    ReportDevice,
};
use scanner::keyboard::Layout;
use scanner::{ScanSource, ScannerEvent, ScannerEventKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Upper bound for anything to happen; generous for a loaded machine.
const WAIT: Duration = Duration::from_secs(5);

/// What the fake device reads next.
type Feed = std_mpsc::Sender<io::Result<Vec<u8>>>;

/// A plugged-in fake scanner: reports come from a channel; when the test drops the sending end
/// the device is "unplugged" and reading fails, as hidraw does.
struct FakeDevice {
    reports: std_mpsc::Receiver<io::Result<Vec<u8>>>,
}

impl ReportDevice for FakeDevice {
    fn read_report(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        match self.reports.recv_timeout(timeout) {
            Ok(Ok(report)) => {
                let len = report.len().min(buf.len());
                buf[..len].copy_from_slice(&report[..len]);
                Ok(len)
            }
            Ok(Err(error)) => Err(error),
            Err(std_mpsc::RecvTimeoutError::Timeout) => Ok(0),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "device disconnected",
            )),
        }
    }
}

/// Hands out the devices the test plugs in, in order; "not found" while there is none.
#[derive(Clone, Default)]
struct FakeOpener {
    plugged: Arc<Mutex<VecDeque<FakeDevice>>>,
    warning: Option<String>,
}

impl FakeOpener {
    /// Plugs in a new device; returns the end the test feeds it from.
    fn plug(&self) -> Feed {
        let (feed, reports) = std_mpsc::channel();
        self.plugged
            .lock()
            .expect("not poisoned")
            .push_back(FakeDevice { reports });
        feed
    }
}

impl DeviceOpener for FakeOpener {
    type Device = FakeDevice;

    fn open(&self) -> io::Result<Opened<FakeDevice>> {
        let device = self
            .plugged
            .lock()
            .expect("not poisoned")
            .pop_front()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such scanner"))?;
        Ok(Opened {
            device,
            label: "fake (/dev/hidraw9)".to_owned(),
            warning: self.warning.clone(),
        })
    }
}

fn id() -> DeviceId {
    "0c2e:0b61".parse().expect("device id")
}

/// Starts `source`; returns its events and task.
fn start(source: impl ScanSource) -> (mpsc::Receiver<ScannerEvent>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(64);
    (rx, tokio::spawn(source.run(tx)))
}

fn pos_source(opener: FakeOpener, dedup_window: Duration) -> HidPosSource<FakeOpener> {
    let config = HidPosConfig {
        dedup_window,
        ..HidPosConfig::new("customer", id())
    };
    HidPosSource::with_opener(config, opener).expect("valid config")
}

fn keyboard_source(opener: FakeOpener, layout: Layout) -> HidKeyboardSource<FakeOpener> {
    let mut config = HidKeyboardConfig::new("cashier", id());
    config.decoder.layout = layout;
    config.dedup_window = Duration::ZERO;
    HidKeyboardSource::with_opener(config, opener).expect("valid config")
}

/// The next event's kind, within [`WAIT`].
async fn next(events: &mut mpsc::Receiver<ScannerEvent>) -> ScannerEventKind {
    timeout(WAIT, events.recv())
        .await
        .expect("an event within the time limit")
        .expect("the source is still running")
        .kind
}

/// The (symbology, data) of the next event, which must be a scan.
async fn next_scan(events: &mut mpsc::Receiver<ScannerEvent>) -> (Option<String>, String) {
    match next(events).await {
        ScannerEventKind::Scan(scan) => (scan.symbology, scan.data),
        other => panic!("expected a scan, got {other:?}"),
    }
}

/// Feeds the reports of a hex fixture, as the scanner would.
fn send_fixture(feed: &Feed, name: &str) {
    for report in common::hex_reports(&common::read(name)) {
        feed.send(Ok(report)).expect("device open");
    }
}

#[tokio::test]
async fn hid_pos_reports_become_scans_until_unplug_and_again_after_replug() {
    let opener = FakeOpener::default();
    let feed = opener.plug();
    let (mut events, source) = start(pos_source(opener.clone(), Duration::ZERO));
    match next(&mut events).await {
        ScannerEventKind::Connected { device } => assert_eq!(device, "fake (/dev/hidraw9)"),
        other => panic!("expected Connected, got {other:?}"),
    }
    send_fixture(&feed, "hid-pos/vipps-personal.hex");
    send_fixture(&feed, "hid-pos/long-qr-3-reports.hex");
    assert_eq!(
        next_scan(&mut events).await,
        (
            Some("]Q1".to_owned()),
            "https://qr.vipps.no/28/2/01/031/4712345678?v=1".to_owned()
        )
    );
    let (symbology, data) = next_scan(&mut events).await;
    assert_eq!(symbology.as_deref(), Some("]Q1"));
    assert_eq!(data.len(), 172);

    // A report that is not a scan is an error; reading goes on.
    feed.send(Ok(vec![0x02, 0x01])).expect("device open");
    match next(&mut events).await {
        ScannerEventKind::Error { reason } => {
            assert_eq!(reason, "HID report of 2 bytes discarded: expected 64");
        }
        other => panic!("expected Error, got {other:?}"),
    }

    // Unplug in the middle of a continued scan: it is dropped, the outage is reported.
    let long = common::hex_reports(&common::read("hid-pos/long-qr-3-reports.hex"));
    feed.send(Ok(long[0].clone())).expect("device open");
    drop(feed);
    match next(&mut events).await {
        ScannerEventKind::Disconnected { reason } => {
            assert_eq!(reason, "read failed: device disconnected");
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }

    // Replug: reopened, and the next scan is whole.
    let feed = opener.plug();
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    send_fixture(&feed, "hid-pos/ean13.hex");
    assert_eq!(
        next_scan(&mut events).await,
        (Some("]E0".to_owned()), "7038010069307".to_owned())
    );

    // Without a receiver the source stops, and so does its reader.
    drop(events);
    timeout(WAIT, source)
        .await
        .expect("the source stops once the receiver is gone")
        .expect("no panic");
}

#[tokio::test]
async fn a_hid_scanner_missing_at_start_is_reported_once_and_picked_up_later() {
    let opener = FakeOpener::default();
    let (mut events, _source) = start(pos_source(opener.clone(), Duration::ZERO));
    match next(&mut events).await {
        ScannerEventKind::Disconnected { reason } => {
            assert_eq!(reason, "cannot open the scanner: no such scanner");
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    // Several reopen attempts fail meanwhile (one at least every 500 ms); none is reported.
    let quiet = timeout(Duration::from_millis(1500), events.recv()).await;
    assert!(quiet.is_err(), "reported again: {quiet:?}");

    let feed = opener.plug();
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    send_fixture(&feed, "hid-pos/ean13.hex");
    assert_eq!(next_scan(&mut events).await.1, "7038010069307");
}

#[tokio::test]
async fn duplicate_hid_pos_scans_within_the_window_are_dropped() {
    let opener = FakeOpener::default();
    let feed = opener.plug();
    let (mut events, _source) = start(pos_source(opener, Duration::from_secs(3600)));
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    send_fixture(&feed, "hid-pos/ean13.hex");
    send_fixture(&feed, "hid-pos/ean13.hex");
    send_fixture(&feed, "hid-pos/vipps-personal.hex");
    assert_eq!(next_scan(&mut events).await.1, "7038010069307");
    assert_eq!(
        next_scan(&mut events).await.1,
        "https://qr.vipps.no/28/2/01/031/4712345678?v=1"
    );
}

#[tokio::test]
async fn keyboard_reports_become_scans_in_the_configured_layout() {
    let opener = FakeOpener {
        warning: Some("cannot grab the keyboard /dev/hidraw9: no permission".to_owned()),
        ..FakeOpener::default()
    };
    let feed = opener.plug();
    let (mut events, source) = start(keyboard_source(opener.clone(), Layout::No));
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    // The opener's warning (a failed grab) is an Error event; reading goes on.
    assert_eq!(
        next(&mut events).await,
        ScannerEventKind::Error {
            reason: "cannot grab the keyboard /dev/hidraw9: no permission".to_owned()
        }
    );
    for name in ["vipps-personal", "mobilepay-token", "ean13"] {
        send_fixture(&feed, &format!("hid-keyboard/no/{name}.hex"));
        let expected = String::from_utf8(common::read(&format!("hid-keyboard/no/{name}.expected")))
            .expect("UTF-8");
        assert_eq!(
            next_scan(&mut events).await,
            (None, expected.trim().to_owned())
        );
    }

    // A key the layout has no character for makes the scan an error at its Enter.
    for report in [
        [0, 0, 0x04, 0, 0, 0, 0, 0],
        [0, 0, 0x30, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0x28, 0, 0, 0, 0, 0],
    ] {
        feed.send(Ok(report.to_vec())).expect("device open");
    }
    assert_eq!(
        next(&mut events).await,
        ScannerEventKind::Error {
            reason: "key with usage id 0x30 (modifiers 0x00) makes no character in the no \
                     keyboard layout"
                .to_owned()
        }
    );

    // Half a scan, then the cable is yanked; after the replug the scan is not glued to the
    // next one, and the held-key state starts afresh.
    for report in [[0, 0, 0x1E, 0, 0, 0, 0, 0], [0, 0, 0x1F, 0, 0, 0, 0, 0]] {
        feed.send(Ok(report.to_vec())).expect("device open");
    }
    feed.send(Err(io::Error::other("unplugged")))
        .expect("device open");
    assert_eq!(
        next(&mut events).await,
        ScannerEventKind::Disconnected {
            reason: "read failed: unplugged".to_owned()
        }
    );
    let feed = opener.plug();
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Error { .. }
    ));
    send_fixture(&feed, "hid-keyboard/no/ean13.hex");
    assert_eq!(next_scan(&mut events).await.1, "7038010069307");

    drop(events);
    timeout(WAIT, source)
        .await
        .expect("the source stops once the receiver is gone")
        .expect("no panic");
}

#[tokio::test]
async fn a_keyboard_scan_without_enter_is_dropped_after_the_key_timeout() {
    let opener = FakeOpener::default();
    let feed = opener.plug();
    let (mut events, _source) = start(keyboard_source(opener, Layout::Us));
    assert!(matches!(
        next(&mut events).await,
        ScannerEventKind::Connected { .. }
    ));
    for report in [[0, 0, 0x1E, 0, 0, 0, 0, 0], [0; 8]] {
        feed.send(Ok(report.to_vec())).expect("device open");
    }
    // Nothing more arrives: the source's timer drops the scan.
    assert_eq!(
        next(&mut events).await,
        ScannerEventKind::Error {
            reason: "incomplete scan of 1 bytes discarded: the scanner went quiet before its end"
                .to_owned()
        }
    );
    send_fixture(&feed, "hid-keyboard/us/ean13.hex");
    assert_eq!(next_scan(&mut events).await.1, "7038010069307");
}

#[test]
fn sources_refuse_impossible_configurations() {
    let mut config = HidPosConfig::new("customer", id());
    config.decoder.layout.data_capacity = 0;
    assert_eq!(
        HidPosSource::with_opener(config, FakeOpener::default())
            .err()
            .map(|e| e.to_string()),
        Some("the HID POS data capacity must be at least 1 byte".to_owned())
    );
    let mut config = HidKeyboardConfig::new("cashier", id());
    config.decoder.max_len = 0;
    assert!(HidKeyboardSource::with_opener(config, FakeOpener::default()).is_err());
}

#[tokio::test]
async fn the_real_hid_source_reports_a_missing_scanner_and_keeps_trying() {
    // No such device here (this machine has no hidraw at all): one Disconnected naming it.
    let source = HidPosSource::new(HidPosConfig::new("customer", id())).expect("valid config");
    let (mut events, source) = start(source);
    match next(&mut events).await {
        ScannerEventKind::Disconnected { reason } => {
            assert_eq!(
                reason,
                "cannot open the scanner: no hid-pos interface of 0c2e:0b61 is plugged in"
            );
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    let path = "/nonexistent/loyaltyd-test/hidraw"
        .parse()
        .expect("path id");
    let (mut path_events, _path_source) =
        start(HidKeyboardSource::new(HidKeyboardConfig::new("cashier", path)).expect("valid"));
    match next(&mut path_events).await {
        ScannerEventKind::Disconnected { reason } => {
            assert!(
                reason.starts_with("cannot open the scanner: /nonexistent/loyaltyd-test/hidraw:"),
                "{reason}"
            );
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    drop(events);
    timeout(WAIT, source)
        .await
        .expect("the source stops once the receiver is gone")
        .expect("no panic");
}
