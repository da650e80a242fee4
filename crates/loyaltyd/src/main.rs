//! The loyaltyd daemon's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Vipps MobilePay "Loyalty at the POS" for any register.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the daemon.
    Run {
        /// The configuration file.
        #[arg(long, short, default_value = "/etc/loyaltyd/config.toml")]
        config: PathBuf,
    },
    /// Check a configuration file and report every problem with its key and line.
    CheckConfig {
        /// The configuration file.
        #[arg(long, short, default_value = "/etc/loyaltyd/config.toml")]
        config: PathBuf,
    },
    /// Print what a recorded scanner capture decodes to: one JSON line per scan,
    /// `{"symbology", "data", "kind"}`, kind being vipps-personal, token or other.
    Decode {
        /// serial (raw bytes), hid-pos or hid-keyboard (one report per line, in hex), with the
        /// decoders' default settings.
        #[arg(
            long,
            short,
            required_unless_present = "scanner",
            conflicts_with = "scanner"
        )]
        format: Option<scanner::decode::Format>,
        /// The keyboard layout the scanner types in (hid-keyboard): us, no, se, fi, dk, de.
        #[arg(long, short, default_value = "us", conflicts_with = "scanner")]
        layout: scanner::keyboard::Layout,
        /// Decode as this configured scanner reads (its kind, framing, report layout, keyboard
        /// layout and limits), from the configuration file.
        #[arg(long, short)]
        scanner: Option<String>,
        /// The configuration file `--scanner` is taken from.
        #[arg(
            long,
            short,
            default_value = "/etc/loyaltyd/config.toml",
            requires = "scanner"
        )]
        config: PathBuf,
        /// The recording; `-` reads standard input.
        file: PathBuf,
    },
    /// Try loyaltyd without Vipps keys or hardware: a simulated Vipps, a virtual scanner reading
    /// lines from standard input, register events printed as JSON lines.
    Demo(loyaltyd::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::CheckConfig { config } => match loyaltyd::config::Config::load(&config)
            .map_err(anyhow::Error::from)
            .and_then(|c| {
                // Build what start-up builds from the settings, so its checks run here too.
                loyaltyd::app::vipps_client(&c)?;
                for scanner in &c.scanners {
                    loyaltyd::sources::check(scanner)?;
                }
                Ok(c)
            }) {
            Ok(c) => {
                println!(
                    "{}: ok (lane {}, {} scanner(s), Vipps {})",
                    config.display(),
                    c.lane.lane_id,
                    c.scanners.len(),
                    c.vipps.base_url
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Cmd::Run { config } => {
            loyaltyd::logging::init();
            let config = match loyaltyd::config::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            report(runtime().and_then(|rt| {
                rt.block_on(loyaltyd::app::run(
                    config,
                    loyaltyd::signals::shutdown(),
                    None,
                ))
            }))
        }
        Cmd::Decode {
            format,
            layout,
            scanner,
            config,
            file,
        } => {
            let decoders = match (scanner, format) {
                (Some(name), _) => match loyaltyd::decode::configured(&config, &name) {
                    Ok(decoders) => decoders,
                    Err(e) => {
                        eprintln!("{e:#}");
                        return ExitCode::from(2);
                    }
                },
                (None, Some(format)) => scanner::decode::Decoders::defaults(format, layout),
                // clap requires one of the two.
                (None, None) => return ExitCode::from(2),
            };
            let input = if file.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
            } else {
                std::fs::read(&file)
            };
            match input {
                Ok(input) => {
                    for line in loyaltyd::decode::lines(&decoders, &input) {
                        println!("{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot read {}: {e}", file.display());
                    ExitCode::from(2)
                }
            }
        }
        Cmd::Demo(args) => {
            loyaltyd::logging::init();
            report(runtime().and_then(|rt| rt.block_on(loyaltyd::demo::run(args))))
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    // One lane is a handful of tasks: a current-thread runtime is enough and keeps a Pi quiet.
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loyaltyd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
