//! The till's buttons and lights, through the gpio crate's fake pins, in the real daemon: a press
//! enters the lane like a register command, a refusal is an event, and the LEDs follow the sale.

use std::time::Duration;

use gpio::fake::FakeGpio;
use gpio::{GpioConfig, Level};

const MEMBER: &str = "4712345678";
const MEMBER_QR: &str = "https://qr.vipps.no/28/2/01/031/4712345678?v=1";
const WAIT: Duration = Duration::from_secs(20);

struct Till {
    _dir: tempfile::TempDir,
    sim: vipps_sim::SimHandle,
    pins: FakeGpio,
    wiring: GpioConfig,
    scans: tokio::sync::mpsc::Sender<scanner::ScannerEvent>,
    register: register::Client,
    events: register::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    daemon: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Till {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim_config = vipps_sim::SimConfig::default();
        let sim = vipps_sim::Sim::start(([127, 0, 0, 1], 0).into(), sim_config.clone())
            .await
            .expect("simulator");
        sim.set_customer(
            MEMBER,
            vipps_sim::CustomerScript {
                payment: vipps_sim::PaymentBehavior::Approve,
                payment_delay: Duration::from_millis(300),
                ..vipps_sim::CustomerScript::default()
            },
        );
        let db = dir.path().join("loyaltyd.db");
        let socket = dir.path().join("register.sock");
        let store = store::Store::open(&db).await.expect("store");
        store
            .upsert_member(&flow::Member {
                contact_id: "M-7".to_owned(),
                msisdn: flow::Msisdn::new(MEMBER).expect("msisdn"),
                sub: None,
                name: None,
                email: None,
                joined_at: flow::UnixMillis(1_700_000_000_000),
                bonus_points: 0,
                preferences: flow::CommunicationPreferences::default(),
            })
            .await
            .expect("member");
        store.close().await;
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                r#"
[lane]
id = "buttons"
payment_poll_interval = "500ms"
[vipps]
environment = "custom"
base_url = "{url}"
client_id = "{id}"
client_secret = "{secret}"
subscription_key = "{key}"
merchant_serial_number = "{msn}"
[store]
path = "{db}"
[register]
socket = "{socket}"
"#,
                url = sim.base_url(),
                id = sim_config.client_id,
                secret = sim_config.client_secret,
                key = sim_config.subscription_key,
                msn = sim_config.merchant_serial_number,
                db = db.display(),
                socket = socket.display(),
            ),
        )
        .expect("config");
        let config = loyaltyd::config::Config::load(&path).expect("config loads");

        let pins = FakeGpio::new();
        let wiring = GpioConfig::suggested();
        let hardware = gpio::open_with(&pins, &wiring).expect("fake pins open");
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let daemon = tokio::spawn(loyaltyd::app::run(
            config,
            async {
                let _ = stop_rx.await;
            },
            Some(loyaltyd::app::Embed {
                started: started_tx,
                virtual_scanners: vec![("till".to_owned(), flow::ScannerRole::Cashier)],
                gpio: Some(hardware),
            }),
        ));
        let running = tokio::time::timeout(WAIT, started_rx)
            .await
            .expect("the daemon starts in time")
            .expect("the daemon starts");
        let register = register::Client::connect(&socket).await.expect("connect");
        let mut events = register::Client::connect(&socket).await.expect("connect");
        events.subscribe(Some(0)).await.expect("subscribe");
        Self {
            _dir: dir,
            sim,
            pins,
            wiring,
            scans: running.scans,
            register,
            events,
            stop: Some(stop_tx),
            daemon,
        }
    }

    /// Presses and releases a button (active low), holding it for `hold`.
    async fn press(&self, button: gpio::Button, hold: Duration) {
        let pin = self.wiring.button(button).expect("wired").pin;
        self.pins.set_input(pin, Level::Low);
        tokio::time::sleep(hold).await;
        self.pins.set_input(pin, Level::High);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn led(&self, indicator: gpio::Indicator) -> Option<Level> {
        let pin = self.wiring.indicator(indicator).expect("wired").pin;
        self.pins.output_level(pin)
    }

    async fn expect(&mut self, kind: &str, fields: &[(&str, &str)]) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.next_event_json())
                .await
                .unwrap_or_else(|_| panic!("no {kind} event with {fields:?} in time"))
                .expect("events")
                .expect("socket open");
            if loyaltyd::demo::event_matches(&event, kind, fields) {
                return event;
            }
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(WAIT, self.daemon)
            .await
            .expect("the daemon stops")
            .expect("no panic")
            .expect("a clean stop");
        self.sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_drive_the_sale_and_the_lights_follow_it() {
    let mut till = Till::start().await;

    // Pay with nothing to pay: refused, as an event (a button has no reply), and the error
    // light flashes.
    till.press(gpio::Button::Pay, Duration::from_millis(80))
        .await;
    let refused = till.expect("rejected", &[("code", "no_basket")]).await;
    assert!(refused["message"].as_str().is_some());
    let error_led = till
        .wiring
        .indicator(gpio::Indicator::Error)
        .expect("wired")
        .pin;
    assert!(
        till.pins
            .changes_of(error_led)
            .iter()
            .any(|change| change.level == Level::High),
        "the error light flashed"
    );

    // A member scans; the member light comes on.
    till.scans
        .send(scanner::ScannerEvent {
            scanner: "till".into(),
            kind: scanner::ScannerEventKind::Scan(scanner::Scan {
                symbology: None,
                data: MEMBER_QR.to_owned(),
            }),
        })
        .await
        .expect("scan");
    till.expect("customer", &[("member", "true")]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(till.led(gpio::Indicator::Member), Some(Level::High));

    // The register sends the basket; the cashier presses Pay on the till.
    let reply = till
        .register
        .send_json(r#"{"v":1,"id":1,"type":"basket","total":{"currency":"NOK","value":2500}}"#)
        .await
        .expect("reply");
    assert_eq!(reply["type"], "reply", "{reply}");
    till.press(gpio::Button::Pay, Duration::from_millis(80))
        .await;
    till.expect("payment", &[("status", "requested")]).await;
    till.expect("payment", &[("status", "authorized")]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(till.led(gpio::Indicator::Paid), Some(Level::High));
    till.expect("payment", &[("status", "captured")]).await;
    till.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_press_cancels_and_never_pays() {
    let mut till = Till::start().await;
    till.sim.set_customer(
        MEMBER,
        vipps_sim::CustomerScript {
            payment: vipps_sim::PaymentBehavior::Ignore,
            ..vipps_sim::CustomerScript::default()
        },
    );
    till.scans
        .send(scanner::ScannerEvent {
            scanner: "till".into(),
            kind: scanner::ScannerEventKind::Scan(scanner::Scan {
                symbology: None,
                data: MEMBER_QR.to_owned(),
            }),
        })
        .await
        .expect("scan");
    till.expect("customer", &[("member", "true")]).await;
    till.register
        .send_json(r#"{"v":1,"id":1,"type":"basket","total":{"currency":"NOK","value":2500}}"#)
        .await
        .expect("reply");
    till.press(gpio::Button::Pay, Duration::from_millis(80))
        .await;
    let requested = till.expect("payment", &[("status", "requested")]).await;

    // Holding Pay past the long press cancels the payment; releasing it does not pay again.
    till.press(gpio::Button::Pay, Duration::from_millis(1800))
        .await;
    till.expect("payment", &[("status", "cancelled")]).await;
    let reference = requested["reference"].as_str().expect("reference");
    let payments = till.sim.payments();
    assert_eq!(payments.len(), 1, "one payment, never a second");
    assert_eq!(payments[0].reference, reference);
    till.stop().await;
}
