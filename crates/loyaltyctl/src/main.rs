//! `loyaltyctl`: the register protocol from a shell, for installers, support and scripts.
//!
//! Every subcommand is one register command over loyaltyd's socket, except `watch`, which
//! subscribes and prints events until interrupted, reconnecting (and catching up) when loyaltyd
//! restarts. Exit status: 0 when loyaltyd accepted the command, 1 when it refused it (the error
//! code and message are printed) or could not be reached.

mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use register::{Amount, Client, Command, Reply, StatusReply};

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
    /// Show the lane's state (the customer's number masked; `--json` shows it in full).
    Status {
        /// Print the `result` object as JSON.
        #[arg(long)]
        json: bool,
    },
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
    let command = match cli.command {
        Cmd::Watch { since } => return watch::run(&cli.socket, since).await,
        Cmd::Status { json } => return status(&cli.socket, json).await,
        Cmd::Basket { amount, currency } => basket(&amount, &currency)?,
        Cmd::Pay => Command::Pay,
        Cmd::Enroll => Command::Enroll,
        Cmd::Cancel => Command::Cancel,
        Cmd::Reset => Command::Reset,
        Cmd::Phone { number } => Command::Phone { number },
    };
    let mut client = Client::connect(&cli.socket).await?;
    match client.send(&command).await? {
        Reply::Ok(_) => {
            println!("ok");
            Ok(())
        }
        Reply::Error { code, message } => bail!("refused: {code}: {message}"),
    }
}

async fn status(socket: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let mut client = Client::connect(socket).await?;
    let result = client.send(&Command::Status).await?.into_result()?;
    if json {
        println!("{result}");
    } else {
        let status: StatusReply = serde_json::from_value(result)
            .context("loyaltyd sent a status this loyaltyctl does not understand")?;
        print!("{}", status::describe(&status));
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
        let Cmd::Basket { amount, currency } = parsed.command else {
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
}
