//! `loyaltyctl`: the register protocol from a shell, for installers, support and scripts.
//!
//! Every subcommand is one register command over loyaltyd's socket (`queue drop` and
//! `member delete` look the item up first, to show it and ask), except `watch`, which subscribes
//! and prints events until interrupted, reconnecting (and catching up) when loyaltyd restarts.
//! Replies are shown as a summary for people, or with `--json` as the reply's `result`. Phone
//! numbers are masked in summaries; `--json` shows them in full.
//!
//! Exit status: 0 when loyaltyd accepted the command, 1 when it refused it (the error code and
//! message are printed), could not be reached, or a confirmation was declined.

mod confirm;
mod devices;
mod format;
mod member;
mod queue;
mod refund;
mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::builder::BoolishValueParser;
use clap::{ArgGroup, Args, Parser, Subcommand};
use register::member::{MemberLookup, PreferencesUpdate};
use register::queue::{MAX_LIMIT, QueueFilter};
use register::{Amount, Client, Command, DevicesReply, Reply, StatusReply};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Talk to loyaltyd over its register socket.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The register socket.
    #[arg(
        long,
        global = true,
        env = "LOYALTYD_SOCKET",
        default_value = "/run/loyaltyd/register.sock"
    )]
    socket: PathBuf,
    /// Print the reply's `result` as JSON instead of a summary (numbers in full).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print events as JSON lines until interrupted; reconnects and catches up after a restart.
    Watch {
        /// First replay the buffered events after this `seq` (0: everything buffered).
        #[arg(long)]
        since: Option<u64>,
    },
    #[command(flatten)]
    Lane(LaneCmd),
    #[command(flatten)]
    Admin(AdminCmd),
}

/// The lane's commands: they reply with `{}` ("ok"), and events tell what follows.
#[derive(Debug, Subcommand)]
enum LaneCmd {
    /// Set the basket total: `basket 499.00` (or `499`, `499,50`).
    Basket {
        /// The amount in major units; converted to minor units exactly.
        amount: String,
        /// ISO 4217 currency code: NOK, DKK or EUR.
        #[arg(long, default_value = "NOK")]
        currency: String,
    },
    /// Send a payment request to the identified customer's phone.
    Pay,
    /// Enroll the identified customer in the loyalty club.
    Enroll,
    /// Cancel the payment or enrollment in progress and end the customer session.
    Cancel,
    /// Forget the sale and the customer.
    Reset,
    /// Identify the customer by a typed phone number.
    Phone {
        /// `+47 123 45 678`, `12345678`, …
        number: String,
    },
}

/// The commands loyaltyd answers with data.
#[derive(Debug, Subcommand)]
enum AdminCmd {
    /// Show the lane at a glance: customer (masked), sale, scanners, Vipps, outbox, counts.
    Status,
    /// List the configured scanners and their state, and the devices that could be scanners.
    Devices,
    /// List the outbox (pending and dead items unless --state says otherwise), or act on an item.
    Queue(QueueArgs),
    /// Show or administer a loyalty-club member.
    Member {
        #[command(subcommand)]
        action: MemberCmd,
    },
    /// Redeem a coupon or bonus check (the customer's at the till unless --contact-id).
    Redeem {
        /// The reward's id, as `member show` lists it.
        reward: String,
        /// The member, when not the customer at the till.
        #[arg(long)]
        contact_id: Option<String>,
    },
    /// Refund (part of) a captured payment of this till: `refund REFERENCE 25.00 --id r1`.
    Refund {
        /// The payment's reference, as its `payment` events name it.
        reference: String,
        /// The amount in major units; converted to minor units exactly.
        #[arg(value_parser = register::parse_amount)]
        amount: i64,
        /// Your id for this refund (1 to 8 letters and digits): the same id again is the same
        /// refund, never a second one.
        #[arg(long, value_parser = refund::parse_id)]
        id: flow::refund::RefundId,
        /// ISO 4217 currency code of the payment: NOK, DKK or EUR.
        #[arg(long, default_value = "NOK", value_parser = parse_currency)]
        currency: flow::Currency,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct QueueArgs {
    #[command(subcommand)]
    action: Option<QueueCmd>,
    /// Which items: pending, dead, delivered or all.
    #[arg(long, value_parser = parse_state)]
    state: Option<QueueFilter>,
    /// At most this many items (1 to 1000; loyaltyd's default is 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIMIT)))]
    limit: Option<u32>,
}

#[derive(Debug, Subcommand)]
enum QueueCmd {
    /// Put a dead item back in the queue, due now.
    Retry {
        /// The item's number, as `queue` lists it.
        #[arg(value_parser = clap::value_parser!(i64).range(0..))]
        item: i64,
    },
    /// Delete a pending or dead item: its call to Vipps will never be made.
    Drop {
        /// The item's number, as `queue` lists it.
        #[arg(value_parser = clap::value_parser!(i64).range(0..))]
        item: i64,
        /// Do not ask (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MemberCmd {
    /// Show a member: points, stamp cards, rewards (the customer at the till by default).
    Show {
        /// The member's contact id.
        #[arg(long, conflicts_with = "phone")]
        contact_id: Option<String>,
        /// The member's phone number, as for `phone`.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Change a member's communication preferences (yes/no, on/off, true/false).
    #[command(group(ArgGroup::new("change").required(true).multiple(true)))]
    Update {
        /// The member's contact id.
        contact_id: String,
        /// Accepts e-mail.
        #[arg(long, group = "change", value_parser = BoolishValueParser::new())]
        email: Option<bool>,
        /// Accepts SMS.
        #[arg(long, group = "change", value_parser = BoolishValueParser::new())]
        sms: Option<bool>,
        /// Accepts post.
        #[arg(long, group = "change", value_parser = BoolishValueParser::new())]
        postal: Option<bool>,
    },
    /// Delete a member with their points, stamps and rewards.
    Delete {
        /// The member's contact id.
        contact_id: String,
        /// Do not ask (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Send a member's whole state to Vipps again.
    Resync {
        /// The member's contact id.
        contact_id: String,
    },
}

impl AdminCmd {
    /// Refuses at once, before connecting, an action that must be confirmed when nobody can
    /// be asked.
    fn check_confirmable(&self) -> anyhow::Result<()> {
        match self {
            Self::Queue(QueueArgs {
                action: Some(QueueCmd::Drop { item, yes }),
                ..
            }) => confirm::check_can_ask(*yes, &format!("drop outbox item {item}")),
            Self::Member {
                action: MemberCmd::Delete { contact_id, yes },
            } => confirm::check_can_ask(*yes, &format!("delete member {contact_id}")),
            _ => Ok(()),
        }
    }
}

fn parse_state(text: &str) -> Result<QueueFilter, register::UnknownName> {
    text.parse()
}

fn parse_currency(text: &str) -> Result<flow::Currency, String> {
    flow::Currency::from_code(text)
        .ok_or_else(|| format!("unknown currency {text:?}; use NOK, DKK or EUR"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loyaltyctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli {
        socket,
        json,
        command,
    } = cli;
    match command {
        Cmd::Watch { since } => watch::run(&socket, since).await,
        Cmd::Lane(command) => {
            // A mistyped amount is reported without connecting.
            let command = lane(command)?;
            let mut client = Client::connect(&socket).await?;
            show(&mut client, &command, json, |_: Value| "ok\n".to_owned()).await
        }
        Cmd::Admin(command) => {
            command.check_confirmable()?;
            let mut client = Client::connect(&socket).await?;
            administer(&mut client, command, json).await
        }
    }
}

/// The register command for a lane subcommand.
fn lane(command: LaneCmd) -> anyhow::Result<Command> {
    Ok(match command {
        LaneCmd::Basket { amount, currency } => basket(&amount, &currency)?,
        LaneCmd::Pay => Command::Pay,
        LaneCmd::Enroll => Command::Enroll,
        LaneCmd::Cancel => Command::Cancel,
        LaneCmd::Reset => Command::Reset,
        LaneCmd::Phone { number } => Command::Phone { number },
    })
}

/// The commands whose replies carry data.
async fn administer(client: &mut Client, command: AdminCmd, json: bool) -> anyhow::Result<()> {
    match command {
        AdminCmd::Status => {
            show(client, &Command::Status, json, |s: StatusReply| {
                status::describe(&s)
            })
            .await
        }
        AdminCmd::Devices => {
            show(client, &Command::Devices, json, |d: DevicesReply| {
                devices::describe(&d)
            })
            .await
        }
        AdminCmd::Queue(QueueArgs {
            action: None,
            state,
            limit,
        }) => queue::list(client, state, limit, json).await,
        AdminCmd::Queue(QueueArgs {
            action: Some(QueueCmd::Retry { item }),
            ..
        }) => queue::retry(client, item, json).await,
        AdminCmd::Queue(QueueArgs {
            action: Some(QueueCmd::Drop { item, yes }),
            ..
        }) => queue::drop(client, item, yes, json).await,
        AdminCmd::Member { action } => match action {
            MemberCmd::Show { contact_id, phone } => {
                let by = match (contact_id, phone) {
                    (Some(id), _) => Some(MemberLookup::ContactId(id)),
                    (None, Some(phone)) => Some(MemberLookup::Phone(phone)),
                    (None, None) => None,
                };
                member::show_member(client, by, json).await
            }
            MemberCmd::Update {
                contact_id,
                email,
                sms,
                postal,
            } => {
                let preferences = PreferencesUpdate { email, sms, postal };
                member::update(client, contact_id, preferences, json).await
            }
            MemberCmd::Delete { contact_id, yes } => {
                member::delete(client, contact_id, yes, json).await
            }
            MemberCmd::Resync { contact_id } => member::resync(client, contact_id, json).await,
        },
        AdminCmd::Redeem { reward, contact_id } => {
            member::redeem(client, reward, contact_id, json).await
        }
        AdminCmd::Refund {
            reference,
            amount,
            id,
            currency,
        } => {
            let amount = Amount {
                currency,
                value: amount,
            };
            refund::refund(client, reference, amount, id, json).await
        }
    }
}

/// Sends `command` and returns its `result`; a refusal is an error that names its code.
async fn send(client: &mut Client, command: &Command) -> anyhow::Result<Value> {
    match client.send(command).await? {
        Reply::Ok(result) => Ok(result),
        Reply::Error { code, message } => bail!("refused: {code}: {message}"),
    }
}

/// Sends `command` and reads its `result` as `T`.
async fn request<T: DeserializeOwned>(client: &mut Client, command: &Command) -> anyhow::Result<T> {
    let result = send(client, command).await?;
    typed(command, result)
}

fn typed<T: DeserializeOwned>(command: &Command, result: Value) -> anyhow::Result<T> {
    serde_json::from_value(result).with_context(|| {
        format!(
            "loyaltyd sent a {} reply this loyaltyctl does not understand",
            command.name()
        )
    })
}

/// Sends `command` and prints the answer: with `json`, the `result` as one line of JSON (not
/// required to be understood, so that a newer loyaltyd's fields show too); otherwise `summary`
/// of the typed result.
async fn show<T: DeserializeOwned>(
    client: &mut Client,
    command: &Command,
    json: bool,
    summary: impl FnOnce(T) -> String,
) -> anyhow::Result<()> {
    let result = send(client, command).await?;
    if json {
        println!("{result}");
    } else {
        print!("{}", summary(typed(command, result)?));
    }
    Ok(())
}

/// The `basket` command for a typed amount and currency code.
fn basket(amount: &str, currency: &str) -> anyhow::Result<Command> {
    let value = register::parse_amount(amount)?;
    let currency = flow::Currency::from_code(currency)
        .with_context(|| format!("unknown currency {currency:?}; use NOK, DKK or EUR"))?;
    Ok(Command::Basket {
        total: Amount { currency, value },
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn basket_converts_the_amount_exactly() {
        let parsed = Cli::try_parse_from(["loyaltyctl", "basket", "499.00", "--currency", "eur"])
            .expect("parses");
        let Cmd::Lane(LaneCmd::Basket { amount, currency }) = parsed.command else {
            panic!("not a basket: {parsed:?}");
        };
        assert_eq!(
            basket(&amount, &currency).expect("valid"),
            Command::Basket {
                total: Amount {
                    currency: flow::Currency::Eur,
                    value: 49_900,
                },
                lines: vec![],
            }
        );
        assert_eq!(
            basket("0.1", "NOK").expect("valid"),
            Command::Basket {
                total: Amount {
                    currency: flow::Currency::Nok,
                    value: 10,
                },
                lines: vec![],
            }
        );
        assert!(basket("4,99.0", "NOK").is_err());
        assert!(basket("1.999", "NOK").is_err());
        let err = basket("10", "SEK").expect_err("unknown currency");
        assert!(err.to_string().contains("SEK"), "{err}");
    }

    #[test]
    fn the_socket_defaults_to_the_packaged_path() {
        let parsed = Cli::try_parse_from(["loyaltyctl", "pay"]).expect("parses");
        if std::env::var_os("LOYALTYD_SOCKET").is_none() {
            assert_eq!(parsed.socket, PathBuf::from("/run/loyaltyd/register.sock"));
        }
        let parsed = Cli::try_parse_from(["loyaltyctl", "status", "--socket", "/tmp/x.sock"])
            .expect("parses");
        assert_eq!(parsed.socket, PathBuf::from("/tmp/x.sock"));
    }

    #[test]
    fn queue_takes_either_a_listing_or_an_action() {
        let parsed =
            Cli::try_parse_from(["loyaltyctl", "queue", "--state", "dead", "--limit", "5"])
                .expect("parses");
        let Cmd::Admin(AdminCmd::Queue(args)) = parsed.command else {
            panic!("not a queue: {parsed:?}");
        };
        assert_eq!((args.state, args.limit), (Some(QueueFilter::Dead), Some(5)));
        assert!(args.action.is_none());

        let parsed = Cli::try_parse_from(["loyaltyctl", "queue", "drop", "7", "--yes", "--json"])
            .expect("parses");
        assert!(parsed.json);
        assert!(matches!(
            parsed.command,
            Cmd::Admin(AdminCmd::Queue(QueueArgs {
                action: Some(QueueCmd::Drop { item: 7, yes: true }),
                ..
            }))
        ));

        for bad in [
            vec!["loyaltyctl", "queue", "--state", "failed"],
            vec!["loyaltyctl", "queue", "--limit", "0"],
            vec!["loyaltyctl", "queue", "--limit", "1001"],
            vec!["loyaltyctl", "queue", "--state", "dead", "retry", "7"],
            vec!["loyaltyctl", "queue", "retry", "-1"],
            vec!["loyaltyctl", "queue", "drop"],
        ] {
            assert!(Cli::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refund_takes_an_exact_amount_and_a_valid_id() {
        let parsed = Cli::try_parse_from([
            "loyaltyctl",
            "refund",
            "lane1-3f9a2c1d-2",
            "25.50",
            "--id",
            "r1",
            "--currency",
            "eur",
        ])
        .expect("parses");
        let Cmd::Admin(AdminCmd::Refund {
            reference,
            amount,
            id,
            currency,
        }) = parsed.command
        else {
            panic!("not a refund: {parsed:?}");
        };
        assert_eq!(
            (reference.as_str(), amount, id.as_str(), currency),
            ("lane1-3f9a2c1d-2", 2_550, "r1", flow::Currency::Eur)
        );
        for bad in [
            vec!["loyaltyctl", "refund", "ref-1", "25"],
            vec!["loyaltyctl", "refund", "ref-1", "25", "--id", "r-1"],
            vec!["loyaltyctl", "refund", "ref-1", "25", "--id", "abcdefghi"],
            vec!["loyaltyctl", "refund", "ref-1", "2.555", "--id", "r1"],
            vec!["loyaltyctl", "refund", "ref-1", "-5", "--id", "r1"],
            vec![
                "loyaltyctl",
                "refund",
                "ref-1",
                "25",
                "--id",
                "r1",
                "--currency",
                "SEK",
            ],
        ] {
            assert!(Cli::try_parse_from(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn member_update_needs_a_change_and_takes_yes_or_no() {
        let parsed = Cli::try_parse_from([
            "loyaltyctl",
            "member",
            "update",
            "M-1",
            "--sms",
            "off",
            "--email",
            "yes",
        ])
        .expect("parses");
        assert!(matches!(
            parsed.command,
            Cmd::Admin(AdminCmd::Member {
                action: MemberCmd::Update {
                    email: Some(true),
                    sms: Some(false),
                    postal: None,
                    ..
                }
            })
        ));
        assert!(Cli::try_parse_from(["loyaltyctl", "member", "update", "M-1"]).is_err());
        assert!(
            Cli::try_parse_from([
                "loyaltyctl",
                "member",
                "show",
                "--contact-id",
                "M-1",
                "--phone",
                "12345678"
            ])
            .is_err()
        );
    }
}
