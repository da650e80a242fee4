//! Demo mode: the real daemon (`app::run`) against the embedded Vipps simulator, with a virtual
//! scanner on standard input and the register's events printed as JSON lines on standard output.
//!
//! Interactive: each input line is a scan, unless it starts with `/` (a cashier command sent over
//! the register socket, like a register would). Scenarios: a scripted sale that exits 0 when it
//! ends as expected, for a first look and for CI.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::oneshot;

use crate::app::{self, Running};
use crate::config::Config;

/// `loyaltyd demo` options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Keep the database and the register socket in this directory (default: a temporary one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run a canned scenario non-interactively; exits 0 when it ends as expected.
    #[arg(long)]
    pub scenario: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list_scenarios: bool,
}

/// A scripted customer of the simulator.
struct DemoCustomer {
    name: &'static str,
    who: &'static str,
    qr: &'static str,
    msisdn: &'static str,
    member: bool,
    payment: vipps_sim::PaymentBehavior,
}

const CUSTOMERS: &[DemoCustomer] = &[
    DemoCustomer {
        name: "Kari",
        who: "Kari, a member who approves payments",
        qr: "https://qr.vipps.no/28/2/01/031/4712345678?v=1",
        msisdn: "4712345678",
        member: true,
        payment: vipps_sim::PaymentBehavior::Approve,
    },
    DemoCustomer {
        name: "Ola",
        who: "Ola, not a member yet; consents to join and approves payments",
        qr: "https://qr.vipps.no/p/DemoOlaNonMember",
        msisdn: "4798765432",
        member: false,
        payment: vipps_sim::PaymentBehavior::Approve,
    },
    DemoCustomer {
        name: "Per",
        who: "Per, a member who declines payments",
        qr: "https://qr.vipps.no/28/2/01/031/4791234567?v=1",
        msisdn: "4791234567",
        member: true,
        payment: vipps_sim::PaymentBehavior::Decline,
    },
];

const WARES: &str = "7038010069307";

/// The demo's scanner: the terminal. It scans both wares and customers, like a till's own scanner.
const VIRTUAL_SCANNER: &str = "terminal";

/// One step of a scenario.
enum Step {
    /// The customer scanner reads this.
    Scan(&'static str),
    /// The register sends this command line (JSON without `v` and `id`).
    Command(&'static str),
    /// Wait for an event of this type whose fields include these.
    Expect(&'static str, &'static [(&'static str, &'static str)]),
    /// The simulator has received a loyalty event with this action.
    LoyaltyEvent(&'static str),
}

/// A canned run.
struct Scenario {
    name: &'static str,
    about: &'static str,
    steps: &'static [Step],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "member-pays",
        about: "a member scans, is checked in, pays 499.00 and the payment is captured",
        steps: &[
            Step::Scan(CUSTOMERS[0].qr),
            Step::Expect("customer", &[("status", "identified"), ("member", "true")]),
            Step::Expect("checkin", &[("status", "sent")]),
            Step::Scan(WARES),
            Step::Expect("barcode", &[("data", WARES)]),
            Step::Command(r#"{"type":"basket","total":{"currency":"NOK","value":49900}}"#),
            Step::Command(r#"{"type":"pay"}"#),
            Step::Expect("payment", &[("status", "requested")]),
            Step::Expect("payment", &[("status", "authorized")]),
            Step::Expect("payment", &[("status", "captured")]),
        ],
    },
    Scenario {
        name: "enroll-then-pay",
        about: "a non-member joins the club through Vipps Login, then pays; the new member reaches the benefits tab",
        steps: &[
            Step::Scan(CUSTOMERS[1].qr),
            Step::Expect("customer", &[("status", "identified"), ("member", "false")]),
            Step::Command(r#"{"type":"enroll"}"#),
            Step::Expect("enrollment", &[("status", "waiting")]),
            Step::Expect("enrollment", &[("status", "completed")]),
            Step::Expect("customer", &[("member", "true")]),
            Step::LoyaltyEvent("benefits.member.registered"),
            Step::Command(r#"{"type":"basket","total":{"currency":"NOK","value":12900}}"#),
            Step::Command(r#"{"type":"pay"}"#),
            Step::Expect("payment", &[("status", "authorized")]),
            Step::Expect("payment", &[("status", "captured")]),
        ],
    },
    Scenario {
        name: "declined",
        about: "a member declines the payment request in the app; the register is told",
        steps: &[
            Step::Scan(CUSTOMERS[2].qr),
            Step::Expect("customer", &[("status", "identified")]),
            Step::Command(r#"{"type":"basket","total":{"currency":"NOK","value":5000}}"#),
            Step::Command(r#"{"type":"pay"}"#),
            Step::Expect("payment", &[("status", "failed"), ("reason", "aborted")]),
        ],
    },
];

/// How long a scenario waits for any one event.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs demo mode.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.list_scenarios {
        for s in SCENARIOS {
            println!("{:<16} {}", s.name, s.about);
        }
        return Ok(());
    }
    let scenario = match &args.scenario {
        Some(name) => Some(SCENARIOS.iter().find(|s| s.name == name).with_context(|| {
            let names: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
            format!("no scenario {name:?}; there are: {}", names.join(", "))
        })?),
        None => None,
    };

    let temp;
    let dir = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("loyaltyd-demo-")
                .tempdir()?;
            temp.path().to_owned()
        }
    };

    let sim = start_simulator().await?;
    let config = demo_config(&dir, &sim.base_url())?;
    seed_members(&config.store_path).await?;
    let socket = config.register.socket.clone();

    let (started_tx, started_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let daemon = tokio::spawn(app::run(
        config,
        async {
            let _ = stop_rx.await;
        },
        Some(app::Embed {
            started: started_tx,
            virtual_scanners: vec![(VIRTUAL_SCANNER.to_owned(), flow::ScannerRole::Cashier)],
            gpio: None,
        }),
    ));
    let running = started_rx
        .await
        .context("the daemon stopped while starting")?;
    let mut events = register::Client::connect(&socket).await?;
    events.subscribe(None).await?;
    let commands = register::Client::connect(&socket).await?;

    let result = match scenario {
        Some(scenario) => play(scenario, &running, commands, events, &sim).await,
        None => interactive(&running, commands, events, &socket).await,
    };
    let _ = stop_tx.send(());
    daemon.await.context("the daemon task failed")??;
    sim.shutdown().await;
    result
}

async fn start_simulator() -> anyhow::Result<vipps_sim::SimHandle> {
    let config = vipps_sim::SimConfig {
        login_interval: Duration::from_secs(1),
        ..vipps_sim::SimConfig::default()
    };
    let sim = vipps_sim::Sim::start(([127, 0, 0, 1], 0).into(), config).await?;
    for customer in CUSTOMERS {
        sim.set_customer(
            customer.msisdn,
            vipps_sim::CustomerScript {
                payment: customer.payment,
                payment_delay: Duration::from_millis(1500),
                login: vipps_sim::LoginBehavior::Consent,
                login_delay: Duration::from_millis(1500),
                ..vipps_sim::CustomerScript::default()
            },
        );
        if customer.qr.starts_with("https://qr.vipps.no/p/") {
            sim.map_qr_token(customer.qr, customer.msisdn);
        }
    }
    Ok(sim)
}

/// The demo's configuration, written as TOML and read through the same code as a real file.
fn demo_config(dir: &Path, vipps_url: &str) -> anyhow::Result<Config> {
    let sim = vipps_sim::SimConfig::default();
    let text = format!(
        r#"
[lane]
id = "demo"
payment_description = "loyaltyd demo purchase"

[vipps]
environment = "custom"
base_url = "{vipps_url}"
client_id = "{}"
client_secret = "{}"
subscription_key = "{}"
merchant_serial_number = "{}"

[store]
path = "{}"

[register]
socket = "{}"

[outbox]
retry_min = "200ms"
retry_max = "2s"
"#,
        sim.client_id,
        sim.client_secret,
        sim.subscription_key,
        sim.merchant_serial_number,
        dir.join("loyaltyd.db").display(),
        dir.join("register.sock").display(),
    );
    Ok(Config::parse(&text, Path::new("<demo>"))?)
}

async fn seed_members(path: &Path) -> anyhow::Result<()> {
    let store = store::Store::open(path).await?;
    for (i, customer) in CUSTOMERS.iter().enumerate().filter(|(_, c)| c.member) {
        store
            .upsert_member(&flow::Member {
                contact_id: format!("DEMO-{}", i + 1),
                msisdn: flow::Msisdn::new(customer.msisdn)?,
                sub: None,
                name: Some(customer.name.to_owned()),
                email: None,
                joined_at: crate::clock::wall_now(),
                bonus_points: 100,
                preferences: flow::CommunicationPreferences::default(),
            })
            .await?;
    }
    Ok(())
}

async fn play(
    scenario: &Scenario,
    running: &Running,
    mut commands: register::Client,
    mut events: register::Client,
    sim: &vipps_sim::SimHandle,
) -> anyhow::Result<()> {
    eprintln!("scenario {}: {}", scenario.name, scenario.about);
    for step in scenario.steps {
        match step {
            Step::Scan(data) => scan(running, data).await?,
            Step::Command(json) => {
                let reply = commands.send_json(json).await?;
                println!("{reply}");
                if reply.get("type").and_then(Value::as_str) != Some("reply") {
                    bail!("the register command {json} was refused: {reply}");
                }
            }
            Step::Expect(kind, fields) => {
                let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
                loop {
                    let event = tokio::time::timeout_at(deadline, events.next_event_json())
                        .await
                        .with_context(|| format!("no {kind} event with {fields:?} in time"))??
                        .context("the register socket closed")?;
                    println!("{event}");
                    if event_matches(&event, kind, fields) {
                        break;
                    }
                }
            }
            Step::LoyaltyEvent(action) => {
                let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
                while !sim
                    .loyalty_events()
                    .iter()
                    .any(|e| e.get("action").and_then(Value::as_str) == Some(action))
                {
                    if tokio::time::Instant::now() > deadline {
                        bail!("Vipps never received a {action} loyalty event");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                eprintln!("Vipps received the loyalty event {action}");
            }
        }
    }
    eprintln!("scenario {}: ok", scenario.name);
    Ok(())
}

/// True when a register event has the type and every field (written as text: `true`, `aborted`).
/// Scenarios and the end-to-end tests wait for events with it.
pub fn event_matches(event: &Value, kind: &str, fields: &[(&str, &str)]) -> bool {
    event.get("type").and_then(Value::as_str) == Some(kind)
        && fields
            .iter()
            .all(|(key, want)| event.get(*key).is_some_and(|v| value_is(v, want)))
}

/// True when a JSON value reads as `want` (`"aborted"`, `true`, `42`).
fn value_is(value: &Value, want: &str) -> bool {
    match value {
        Value::String(s) => s == want,
        Value::Bool(b) => want.parse() == Ok(*b),
        Value::Number(n) => n.as_i64().is_some_and(|n| want.parse() == Ok(n)),
        Value::Null => want == "null",
        Value::Array(_) | Value::Object(_) => false,
    }
}

async fn scan(running: &Running, data: &str) -> anyhow::Result<()> {
    running
        .scans
        .send(scanner::ScannerEvent {
            scanner: VIRTUAL_SCANNER.into(),
            kind: scanner::ScannerEventKind::Scan(scanner::Scan {
                symbology: None,
                data: data.to_owned(),
            }),
        })
        .await
        .context("the daemon stopped")
}

async fn interactive(
    running: &Running,
    mut commands: register::Client,
    mut events: register::Client,
    socket: &Path,
) -> anyhow::Result<()> {
    eprintln!("loyaltyd demo: a simulated Vipps, a virtual scanner on this terminal.");
    eprintln!(
        "Register socket: {} (try: loyaltyctl --socket {} watch)",
        socket.display(),
        socket.display()
    );
    eprintln!("Scan by typing a code and Enter. Scripted customers:");
    for c in CUSTOMERS {
        eprintln!("  {:<48} {}", c.qr, c.who);
    }
    eprintln!("  {WARES:<48} wares (passed to the register)");
    eprintln!("{HELP}");
    let printer = tokio::spawn(async move {
        while let Ok(Some(event)) = events.next_event_json().await {
            println!("{event}");
        }
    });
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.strip_prefix('/') {
            None => scan(running, line).await?,
            Some("help") => eprintln!("{HELP}"),
            Some("quit") => break,
            Some(command) => match command_json(command) {
                Ok(json) => println!("{}", commands.send_json(&json).await?),
                Err(e) => eprintln!("{e}"),
            },
        }
    }
    printer.abort();
    Ok(())
}

const HELP: &str = "Cashier commands: /basket 499.00  /pay  /enroll  /cancel  /reset  /phone 4712345678  /status  /quit";

/// A typed cashier command as a register protocol line.
fn command_json(command: &str) -> anyhow::Result<String> {
    let (verb, arg) = command.split_once(' ').unwrap_or((command, ""));
    let arg = arg.trim();
    Ok(match verb {
        "pay" | "enroll" | "cancel" | "reset" | "status" => format!(r#"{{"type":"{verb}"}}"#),
        "basket" => {
            let value = register::parse_amount(arg)
                .with_context(|| format!("/basket takes an amount like 499.00, got {arg:?}"))?;
            format!(r#"{{"type":"basket","total":{{"currency":"NOK","value":{value}}}}}"#)
        }
        "phone" => serde_json::json!({"type": "phone", "number": arg}).to_string(),
        other => bail!("unknown command /{other}; {HELP}"),
    })
}
