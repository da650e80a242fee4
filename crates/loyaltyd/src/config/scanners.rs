//! `[[scanner]]`: one table per scanner, of one of three kinds.
//!
//! - `serial`: RS-232 or USB-CDC, named by `path` (a tty, or the udev symlink);
//! - `hid-pos`: USB HID POS, named by `device` (`VID:PID[:SERIAL]` or a hidraw path), with the
//!   vendor's report layout in an optional `[scanner.report]` table;
//! - `hid-keyboard`: a keyboard-wedge scanner, named by `device`, typing in `layout`.
//!
//! The settings resolve straight into the scanner crate's source configurations.

use std::path::PathBuf;
use std::time::Duration;

use flow::ScannerRole;
use jiff::SignedDuration;
use serde::Deserialize;

use super::{ConfigError, Ctx};

/// One configured scanner.
#[derive(Debug, Clone)]
pub struct ScannerSettings {
    /// Its name in events and logs.
    pub name: String,
    /// Cashier or customer.
    pub role: ScannerRole,
    /// How to read it.
    pub source: SourceSettings,
}

/// How a scanner is read: the scanner crate's configuration for its kind.
#[derive(Debug, Clone)]
pub enum SourceSettings {
    /// A serial port.
    Serial(scanner::SerialConfig),
    /// USB HID POS.
    HidPos(scanner::HidPosConfig),
    /// USB HID keyboard wedge.
    HidKeyboard(scanner::HidKeyboardConfig),
}

impl ScannerSettings {
    /// The kind, as the register protocol names it.
    pub fn kind(&self) -> register::devices::ScannerKind {
        match self.source {
            SourceSettings::Serial(_) => register::devices::ScannerKind::Serial,
            SourceSettings::HidPos(_) => register::devices::ScannerKind::HidPos,
            SourceSettings::HidKeyboard(_) => register::devices::ScannerKind::HidKeyboard,
        }
    }

    /// The configured identity, as written.
    pub fn identity(&self) -> String {
        match &self.source {
            SourceSettings::Serial(c) => c.path.display().to_string(),
            SourceSettings::HidPos(c) => c.device.to_string(),
            SourceSettings::HidKeyboard(c) => c.device.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScanner {
    name: String,
    role: String,
    kind: String,
    // serial
    path: Option<PathBuf>,
    baud: Option<u32>,
    terminator: Option<String>,
    suffix: Option<String>,
    prefix: Option<String>,
    quiet_gap: Option<SignedDuration>,
    // hid-pos and hid-keyboard
    device: Option<String>,
    // hid-keyboard
    layout: Option<String>,
    grab: Option<bool>,
    // hid-pos
    report: Option<RawReport>,
    // all
    #[serde(default = "default_true")]
    strip_aim: bool,
    #[serde(default = "default_max_len")]
    max_length: usize,
    #[serde(default = "default_dedup")]
    duplicate_window: SignedDuration,
}

/// A HID POS report layout (byte offsets); every field defaults to Honeywell's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    /// Report id of scanned-data reports; -1 for a device without report ids.
    report_id: Option<i16>,
    count_offset: Option<usize>,
    /// -1: the reports carry no AIM id.
    aim_offset: Option<i64>,
    data_offset: Option<usize>,
    data_capacity: Option<usize>,
    /// -1: every report is a whole scan.
    continuation_offset: Option<i64>,
}

fn default_true() -> bool {
    true
}
fn default_max_len() -> usize {
    4096
}
fn default_dedup() -> SignedDuration {
    SignedDuration::from_millis(1500)
}

impl RawScanner {
    pub(super) fn resolve(self, ctx: Ctx<'_>, i: usize) -> Result<ScannerSettings, ConfigError> {
        let key = |field: &str| format!("scanner[{i}].{field}");
        if self.name.is_empty() {
            return Err(ctx.invalid(&key("name"), "must not be empty"));
        }
        let role = match self.role.as_str() {
            "cashier" => ScannerRole::Cashier,
            "customer" => ScannerRole::Customer,
            other => {
                return Err(ctx.invalid(
                    &key("role"),
                    format!("must be \"cashier\" or \"customer\", got {other:?}"),
                ));
            }
        };
        if !(16..=65_536).contains(&self.max_length) {
            return Err(ctx.invalid(&key("max_length"), "must be between 16 and 65536"));
        }
        let dedup_window = Duration::try_from(self.duplicate_window)
            .map_err(|_| ctx.invalid(&key("duplicate_window"), "must not be negative"))?;
        let name: std::sync::Arc<str> = self.name.as_str().into();

        // Keys of another kind are errors, so a half-edited table never goes unnoticed.
        let serial_only = [
            ("path", self.path.is_some()),
            ("baud", self.baud.is_some()),
            ("terminator", self.terminator.is_some()),
            ("suffix", self.suffix.is_some()),
            ("prefix", self.prefix.is_some()),
            ("quiet_gap", self.quiet_gap.is_some()),
        ];
        let refuse = |fields: &[(&str, bool)], kind: &str| -> Result<(), ConfigError> {
            match fields.iter().find(|(_, given)| *given) {
                Some((field, _)) => {
                    Err(ctx.invalid(&key(field), format!("does not apply to kind = \"{kind}\"")))
                }
                None => Ok(()),
            }
        };

        let source = match self.kind.as_str() {
            "serial" => {
                refuse(
                    &[
                        ("device", self.device.is_some()),
                        ("layout", self.layout.is_some()),
                        ("grab", self.grab.is_some()),
                        ("report", self.report.is_some()),
                    ],
                    "serial",
                )?;
                let path = self.path.ok_or_else(|| {
                    ctx.invalid(
                        &key("path"),
                        "a serial scanner needs its tty or udev symlink (path = \"/dev/loyaltyd/cashier\")",
                    )
                })?;
                let (terminator, quiet_gap) =
                    terminator(ctx, &key, self.terminator, self.suffix, self.quiet_gap)?;
                SourceSettings::Serial(scanner::SerialConfig {
                    name,
                    path,
                    baud: self.baud.unwrap_or(9600),
                    framing: scanner::serial::FramingConfig {
                        terminator,
                        prefix: self
                            .prefix
                            .filter(|p| !p.is_empty())
                            .map(String::into_bytes),
                        strip_aim: self.strip_aim,
                        max_len: self.max_length,
                        quiet_gap,
                        ..scanner::serial::FramingConfig::default()
                    },
                    dedup_window,
                    ..scanner::SerialConfig::default()
                })
            }
            "hid-pos" => {
                refuse(&serial_only, "hid-pos")?;
                refuse(
                    &[
                        ("layout", self.layout.is_some()),
                        ("grab", self.grab.is_some()),
                    ],
                    "hid-pos",
                )?;
                let device = device(ctx, &key("device"), self.device)?;
                let mut config = scanner::HidPosConfig::new(name, device);
                config.decoder.max_len = self.max_length;
                if let Some(report) = self.report {
                    config.decoder.layout = report_layout(ctx, &key, report)?;
                }
                config.dedup_window = dedup_window;
                SourceSettings::HidPos(config)
            }
            "hid-keyboard" => {
                refuse(&serial_only, "hid-keyboard")?;
                refuse(&[("report", self.report.is_some())], "hid-keyboard")?;
                let device = device(ctx, &key("device"), self.device)?;
                let mut config = scanner::HidKeyboardConfig::new(name, device);
                let layout = self.layout.as_deref().unwrap_or("us");
                config.decoder.layout = layout
                    .parse()
                    .map_err(|e| ctx.invalid(&key("layout"), format!("{e}")))?;
                config.decoder.strip_aim = self.strip_aim;
                config.decoder.max_len = self.max_length;
                config.grab = self.grab.unwrap_or(true);
                config.dedup_window = dedup_window;
                SourceSettings::HidKeyboard(config)
            }
            other => {
                return Err(ctx.invalid(
                    &key("kind"),
                    format!("must be \"serial\", \"hid-pos\" or \"hid-keyboard\", got {other:?}"),
                ));
            }
        };
        Ok(ScannerSettings {
            name: self.name,
            role,
            source,
        })
    }
}

fn device(ctx: Ctx<'_>, key: &str, text: Option<String>) -> Result<scanner::DeviceId, ConfigError> {
    let text = text.ok_or_else(|| {
        ctx.invalid(
            key,
            "a USB scanner needs its device: USB ids (\"0c2e:0b61\", or \"0c2e:0b61:SERIAL\" to \
             pick one of two alike) or a hidraw path; `loyaltyctl devices` lists what is plugged in",
        )
    })?;
    text.parse().map_err(|e| ctx.invalid(key, format!("{e}")))
}

type Framing = (scanner::serial::Terminator, Option<Duration>);

fn terminator(
    ctx: Ctx<'_>,
    key: &dyn Fn(&str) -> String,
    terminator: Option<String>,
    suffix: Option<String>,
    quiet_gap: Option<SignedDuration>,
) -> Result<Framing, ConfigError> {
    use scanner::serial::Terminator;
    let name = terminator.as_deref().unwrap_or("newline");
    if suffix.is_some() && name != "suffix" {
        return Err(ctx.invalid(&key("suffix"), "only allowed with terminator = \"suffix\""));
    }
    if quiet_gap.is_some() && name != "quiet-gap" {
        return Err(ctx.invalid(
            &key("quiet_gap"),
            "only allowed with terminator = \"quiet-gap\"",
        ));
    }
    Ok(match name {
        "newline" => (Terminator::Newline, None),
        "stx-etx" => (Terminator::StxEtx, None),
        "suffix" => match suffix.filter(|s| !s.is_empty()) {
            Some(suffix) => (Terminator::Suffix(suffix.into_bytes()), None),
            None => {
                return Err(ctx.invalid(
                    &key("suffix"),
                    "terminator = \"suffix\" needs a non-empty suffix",
                ));
            }
        },
        "quiet-gap" => {
            let gap = quiet_gap.unwrap_or(SignedDuration::from_millis(50));
            (
                Terminator::QuietGap,
                Some(ctx.duration(&key("quiet_gap"), gap)?),
            )
        }
        other => {
            return Err(ctx.invalid(
                &key("terminator"),
                format!(
                    "must be \"newline\", \"stx-etx\", \"suffix\" or \"quiet-gap\", got {other:?}"
                ),
            ));
        }
    })
}

fn report_layout(
    ctx: Ctx<'_>,
    key: &dyn Fn(&str) -> String,
    raw: RawReport,
) -> Result<scanner::hid_pos::HidPosLayout, ConfigError> {
    let honeywell = scanner::hid_pos::HidPosLayout::HONEYWELL;
    let optional = |field: &str, value: Option<i64>, default: Option<usize>| match value {
        None => Ok(default),
        Some(-1) => Ok(None),
        Some(v) => usize::try_from(v)
            .map(Some)
            .map_err(|_| ctx.invalid(&key(field), "must be an offset (0 or more), or -1 for none")),
    };
    let layout = scanner::hid_pos::HidPosLayout {
        report_id: match raw.report_id {
            None => honeywell.report_id,
            Some(-1) => None,
            Some(id) => Some(u8::try_from(id).map_err(|_| {
                ctx.invalid(&key("report.report_id"), "must be 0 to 255, or -1 for none")
            })?),
        },
        count_offset: raw.count_offset.unwrap_or(honeywell.count_offset),
        aim_offset: optional("report.aim_offset", raw.aim_offset, honeywell.aim_offset)?,
        data_offset: raw.data_offset.unwrap_or(honeywell.data_offset),
        data_capacity: raw.data_capacity.unwrap_or(honeywell.data_capacity),
        continuation_offset: optional(
            "report.continuation_offset",
            raw.continuation_offset,
            honeywell.continuation_offset,
        )?,
    };
    layout
        .validate()
        .map_err(|e| ctx.invalid(&key("report"), format!("{e}")))?;
    Ok(layout)
}
