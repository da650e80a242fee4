//! The configuration file: one TOML file, read in two steps.
//!
//! 1. [`RawConfig`] mirrors the file exactly (serde, unknown keys refused, so a typo is an error
//!    with its line, not a silently ignored setting).
//! 2. [`Config::resolve`] checks meaning (ranges, formats, secret files) and produces the typed
//!    settings the daemon runs on. Every error names the key and, where it can be found, its line.
//!
//! `config/loyaltyd.example.toml` documents every key; a test keeps it in step with this module.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flow::{Currency, LaneConfig};
use jiff::SignedDuration;
use serde::Deserialize;

mod gpio;
mod members;
mod program;
mod scanners;
mod vipps;

pub use gpio::{GpioMode, GpioSettings};
pub use members::{HttpDirectorySettings, MembersSettings};
pub use scanners::{ScannerSettings, SourceSettings};

/// The file as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    lane: RawLane,
    #[serde(default)]
    vipps: RawVipps,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    register: RawRegister,
    #[serde(default, rename = "scanner")]
    scanners: Vec<scanners::RawScanner>,
    #[serde(default)]
    outbox: RawOutbox,
    #[serde(default)]
    gpio: gpio::RawGpio,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    members: members::RawMembers,
    #[serde(default)]
    loyalty: program::RawLoyalty,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLane {
    id: String,
    currency: String,
    country_code: String,
    idle_timeout: SignedDuration,
    payment_poll_interval: SignedDuration,
    payment_description: String,
    check_in: bool,
    shutdown_grace: SignedDuration,
}

impl Default for RawLane {
    fn default() -> Self {
        Self {
            id: "till-1".to_owned(),
            currency: "NOK".to_owned(),
            country_code: "47".to_owned(),
            idle_timeout: SignedDuration::from_secs(120),
            payment_poll_interval: SignedDuration::from_secs(1),
            payment_description: "Purchase".to_owned(),
            check_in: true,
            shutdown_grace: SignedDuration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawVipps {
    environment: String,
    base_url: Option<String>,
    client_id: String,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    subscription_key: Option<String>,
    subscription_key_file: Option<PathBuf>,
    merchant_serial_number: String,
    system_name: String,
    system_version: String,
    plugin_name: String,
    plugin_version: String,
    connect_timeout: SignedDuration,
    request_timeout: SignedDuration,
    login_scope: String,
    payment_api: String,
    ecom_callback_prefix: Option<String>,
    ecom_fallback_url: Option<String>,
    ecom_transaction_text: Option<String>,
}

impl Default for RawVipps {
    fn default() -> Self {
        Self {
            environment: "test".to_owned(),
            base_url: None,
            client_id: String::new(),
            client_secret: None,
            client_secret_file: None,
            subscription_key: None,
            subscription_key_file: None,
            merchant_serial_number: String::new(),
            system_name: "loyaltyd".to_owned(),
            system_version: env!("CARGO_PKG_VERSION").to_owned(),
            plugin_name: "loyaltyd".to_owned(),
            plugin_version: env!("CARGO_PKG_VERSION").to_owned(),
            connect_timeout: SignedDuration::from_secs(1),
            request_timeout: SignedDuration::from_secs(5),
            login_scope: "openid name phoneNumber email".to_owned(),
            payment_api: "epayment".to_owned(),
            ecom_callback_prefix: None,
            ecom_fallback_url: None,
            ecom_transaction_text: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    path: PathBuf,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/var/lib/loyaltyd/loyaltyd.db"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRegister {
    socket: PathBuf,
    socket_mode: String,
    max_line_bytes: usize,
    replay_events: usize,
}

impl Default for RawRegister {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/run/loyaltyd/register.sock"),
            socket_mode: "0660".to_owned(),
            max_line_bytes: 65_536,
            replay_events: 1024,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    listen: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutbox {
    retry_min: SignedDuration,
    retry_max: SignedDuration,
    give_up_after: SignedDuration,
    max_attempts: u32,
}

impl Default for RawOutbox {
    fn default() -> Self {
        Self {
            retry_min: SignedDuration::from_secs(1),
            retry_max: SignedDuration::from_secs(300),
            give_up_after: SignedDuration::from_hours(72),
            max_attempts: 0,
        }
    }
}

/// The settings the daemon runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// The lane's behaviour.
    pub lane: LaneConfig,
    /// Vipps MobilePay access.
    pub vipps: VippsSettings,
    /// The SQLite file.
    pub store_path: PathBuf,
    /// The register socket.
    pub register: RegisterSettings,
    /// The scanners.
    pub scanners: Vec<ScannerSettings>,
    /// The outbox relay.
    pub outbox: OutboxSettings,
    /// At shutdown, how long a payment waiting for the customer may take to finish before the
    /// daemon stops anyway (the next start then finishes it from the journal).
    pub shutdown_grace: Duration,
    /// Cashier buttons, LEDs and buzzer.
    pub gpio: GpioSettings,
    /// Where Prometheus metrics are served, if anywhere (always a loopback address).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Where membership lives (`[members]`).
    pub members: MembersSettings,
    /// The loyalty program: what a member's captured purchase earns (`[loyalty]`).
    pub program: flow::program::Program,
}

/// A secret value; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Which Vipps MobilePay environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `https://apitest.vipps.no`.
    Test,
    /// `https://api.vipps.no`: real money.
    Production,
    /// Another base URL, such as the simulator.
    Custom,
}

/// Vipps MobilePay access.
#[derive(Debug, Clone)]
pub struct VippsSettings {
    /// The environment.
    pub environment: Environment,
    /// The API base URL, without a trailing slash.
    pub base_url: String,
    /// The sales unit's client id.
    pub client_id: String,
    /// The sales unit's client secret.
    pub client_secret: Secret,
    /// `Ocp-Apim-Subscription-Key`.
    pub subscription_key: Secret,
    /// `Merchant-Serial-Number`.
    pub merchant_serial_number: String,
    /// `Vipps-System-Name`, `-Version`, `-Plugin-Name`, `-Plugin-Version`.
    pub system: [String; 4],
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Scopes asked for at enrollment.
    pub login_scope: String,
    /// The payment API: ePayment (the default) or eCom.
    pub payment_api: ::vipps::PaymentApi,
}

/// The register socket.
#[derive(Debug, Clone)]
pub struct RegisterSettings {
    /// Socket path.
    pub socket: PathBuf,
    /// File mode of the socket.
    pub mode: u32,
    /// Longest accepted line.
    pub max_line: usize,
    /// Events kept for replay.
    pub replay: usize,
}

/// The outbox relay's schedule.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// First retry delay.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// An item older than this that still fails becomes a dead letter.
    pub give_up_after: Duration,
    /// An item that failed this many times becomes a dead letter; 0: no limit (only the age).
    pub max_attempts: u32,
}

/// A configuration problem, naming the key and, when found, the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message, with line and column.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{path}{line}: `{key}`: {message}", line = line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line, when it could be found.
        line: Option<usize>,
        /// The dotted key (`vipps.merchant_serial_number`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl Config {
    /// Reads and resolves the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and resolves `text`; `path` is for messages and for relative secret files.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: syntax_message(&e, text),
        })?;
        Self::resolve(raw, text, path)
    }

    /// Checks meaning and produces the typed settings.
    fn resolve(raw: RawConfig, text: &str, path: &Path) -> Result<Self, ConfigError> {
        let ctx = Ctx { text, path };
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: find_line(text, key),
            key: key.to_owned(),
            message,
        };
        let duration = |key: &str, d: SignedDuration| -> Result<Duration, ConfigError> {
            Duration::try_from(d)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| invalid(key, format!("must be a positive duration, got {d}")))
        };

        // [lane]
        let l = raw.lane;
        if l.id.is_empty()
            || l.id.len() > 16
            || !l.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid(
                "lane.id",
                format!(
                    "must be 1 to 16 characters of letters, digits and '-' (it is part of every payment reference), got {:?}",
                    l.id
                ),
            ));
        }
        let currency = Currency::from_code(&l.currency).ok_or_else(|| {
            invalid(
                "lane.currency",
                format!("must be NOK, DKK or EUR, got {:?}", l.currency),
            )
        })?;
        if !(1..=3).contains(&l.country_code.len())
            || !l.country_code.chars().all(|c| c.is_ascii_digit())
        {
            return Err(invalid(
                "lane.country_code",
                format!(
                    "must be 1 to 3 digits without + (47 for Norway), got {:?}",
                    l.country_code
                ),
            ));
        }
        let description_len = l.payment_description.chars().count();
        if !(3..=100).contains(&description_len) {
            return Err(invalid(
                "lane.payment_description",
                format!("must be 3 to 100 characters, got {description_len}"),
            ));
        }
        let poll = duration("lane.payment_poll_interval", l.payment_poll_interval)?;
        if poll < Duration::from_millis(500) {
            return Err(invalid(
                "lane.payment_poll_interval",
                "must be at least 500ms: ePayment allows 120 lookups a minute per payment"
                    .to_owned(),
            ));
        }
        let mut lane = LaneConfig::new(l.id);
        lane.currency = currency;
        lane.default_country_code = l.country_code;
        lane.idle_timeout = duration("lane.idle_timeout", l.idle_timeout)?;
        lane.payment_poll_interval = poll;
        lane.payment_description = l.payment_description;
        lane.check_in = l.check_in;
        let shutdown_grace = duration("lane.shutdown_grace", l.shutdown_grace)?;

        // [vipps]
        let v = raw.vipps;
        let (environment, base_url) = match (v.environment.as_str(), v.base_url) {
            ("test", None) => (Environment::Test, "https://apitest.vipps.no".to_owned()),
            ("production", None) => (Environment::Production, "https://api.vipps.no".to_owned()),
            ("custom", Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                (Environment::Custom, url.trim_end_matches('/').to_owned())
            }
            ("custom", _) => {
                return Err(invalid(
                    "vipps.base_url",
                    "environment \"custom\" needs a base_url starting with http:// or https://"
                        .to_owned(),
                ));
            }
            ("test" | "production", Some(_)) => {
                return Err(invalid(
                    "vipps.base_url",
                    "only allowed with environment = \"custom\"".to_owned(),
                ));
            }
            (other, _) => {
                return Err(invalid(
                    "vipps.environment",
                    format!("must be \"test\", \"production\" or \"custom\", got {other:?}"),
                ));
            }
        };
        if v.client_id.is_empty() {
            return Err(invalid(
                "vipps.client_id",
                "is required (portal.vippsmobilepay.com, under the sales unit's keys)".to_owned(),
            ));
        }
        let msn = &v.merchant_serial_number;
        if !(4..=6).contains(&msn.len()) || !msn.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid(
                "vipps.merchant_serial_number",
                format!("must be 4 to 6 digits, got {msn:?}"),
            ));
        }
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let client_secret = secret(
            "vipps.client_secret",
            v.client_secret,
            v.client_secret_file,
            environment,
            base_dir,
        )
        .map_err(|(key, m)| invalid(&key, m))?;
        let subscription_key = secret(
            "vipps.subscription_key",
            v.subscription_key,
            v.subscription_key_file,
            environment,
            base_dir,
        )
        .map_err(|(key, m)| invalid(&key, m))?;
        let system = [
            ("vipps.system_name", v.system_name),
            ("vipps.system_version", v.system_version),
            ("vipps.plugin_name", v.plugin_name),
            ("vipps.plugin_version", v.plugin_version),
        ];
        for (key, value) in &system {
            if value.is_empty() || value.len() > 30 {
                return Err(invalid(
                    key,
                    format!("must be 1 to 30 characters (a Vipps header), got {value:?}"),
                ));
            }
        }
        if !v.login_scope.split_whitespace().any(|s| s == "openid") {
            return Err(invalid(
                "vipps.login_scope",
                "must include \"openid\"".to_owned(),
            ));
        }
        let payment_api = vipps::payment_api(
            ctx,
            vipps::RawPayment {
                api: v.payment_api,
                callback_prefix: v.ecom_callback_prefix,
                fallback_url: v.ecom_fallback_url,
                transaction_text: v.ecom_transaction_text,
            },
            &lane,
            &v.merchant_serial_number,
        )?;
        // eCom takes Norwegian numbers only: the lane refuses others at Pay.
        lane.norwegian_numbers_only = matches!(payment_api, ::vipps::PaymentApi::Ecom(_));
        let vipps = VippsSettings {
            environment,
            base_url,
            client_id: v.client_id,
            client_secret,
            subscription_key,
            merchant_serial_number: v.merchant_serial_number,
            system: system.map(|(_, value)| value),
            connect_timeout: duration("vipps.connect_timeout", v.connect_timeout)?,
            request_timeout: duration("vipps.request_timeout", v.request_timeout)?,
            login_scope: v.login_scope,
            payment_api,
        };

        // [register]
        let r = raw.register;
        let mode = u32::from_str_radix(r.socket_mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777 && m & 0o007 == 0)
            .ok_or_else(|| {
                invalid(
                    "register.socket_mode",
                    format!(
                        "must be an octal mode without access for others, such as \"0660\", got {:?}",
                        r.socket_mode
                    ),
                )
            })?;
        if !(1024..=1 << 20).contains(&r.max_line_bytes) {
            return Err(invalid(
                "register.max_line_bytes",
                "must be between 1024 and 1048576".to_owned(),
            ));
        }
        if !(16..=100_000).contains(&r.replay_events) {
            return Err(invalid(
                "register.replay_events",
                "must be between 16 and 100000".to_owned(),
            ));
        }
        let register = RegisterSettings {
            socket: r.socket,
            mode,
            max_line: r.max_line_bytes,
            replay: r.replay_events,
        };

        // [[scanner]]
        let mut scanners: Vec<ScannerSettings> = Vec::new();
        for (i, raw) in raw.scanners.into_iter().enumerate() {
            let resolved = raw.resolve(ctx, i)?;
            if scanners.iter().any(|o| o.name == resolved.name) {
                return Err(ctx.invalid(
                    &format!("scanner[{i}].name"),
                    format!("must be unique, {:?} is used twice", resolved.name),
                ));
            }
            scanners.push(resolved);
        }

        // [outbox]
        let o = raw.outbox;
        let outbox = OutboxSettings {
            retry_min: duration("outbox.retry_min", o.retry_min)?,
            retry_max: duration("outbox.retry_max", o.retry_max)?,
            give_up_after: duration("outbox.give_up_after", o.give_up_after)?,
            max_attempts: o.max_attempts,
        };
        if outbox.retry_max < outbox.retry_min {
            return Err(invalid(
                "outbox.retry_max",
                "must not be shorter than outbox.retry_min".to_owned(),
            ));
        }

        Ok(Self {
            lane,
            vipps,
            store_path: raw.store.path,
            register,
            scanners,
            outbox,
            shutdown_grace,
            gpio: raw.gpio.resolve(ctx)?,
            metrics_listen: match raw.metrics.listen {
                None => None,
                Some(text) => {
                    let addr: std::net::SocketAddr = text.parse().map_err(|_| {
                        ctx.invalid(
                            "metrics.listen",
                            format!(
                                "must be an address and port like \"127.0.0.1:9464\", got {text:?}"
                            ),
                        )
                    })?;
                    if !addr.ip().is_loopback() {
                        return Err(ctx.invalid(
                            "metrics.listen",
                            format!("must be a loopback address (127.0.0.1 or [::1]): metrics stay on the till, got {addr}"),
                        ));
                    }
                    Some(addr)
                }
            },
            members: raw.members.resolve(ctx, environment, base_dir)?,
            program: raw.loyalty.resolve(ctx, currency)?,
        })
    }
}

/// What a section's resolver needs to word its errors: the file and its text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    /// An error about `key` (dotted), with the line it is on when it can be found.
    pub(crate) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: find_line(self.text, key),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// A positive duration.
    pub(crate) fn duration(&self, key: &str, d: SignedDuration) -> Result<Duration, ConfigError> {
        Duration::try_from(d)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| self.invalid(key, format!("must be a positive duration, got {d}")))
    }
}

/// toml's message, which quotes the offending line, unless that line may hold a secret: then
/// only its number and the problem, since check-config output and the journal are not private.
fn syntax_message(error: &toml::de::Error, text: &str) -> String {
    let Some(span) = error.span() else {
        return error.to_string().trim_end().to_owned();
    };
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_text = text[line_start..]
        .lines()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    // Generous on purpose: a mistyped `client_secrte` must not be quoted either.
    if ["secr", "key", "pass", "token", "cred"]
        .iter()
        .any(|w| line_text.contains(w))
    {
        let line = text[..span.start].matches('\n').count() + 1;
        format!(
            "TOML parse error at line {line}: {} (the line is not shown: it may hold a secret)",
            error.message()
        )
    } else {
        error.to_string().trim_end().to_owned()
    }
}

/// Reads a secret from `<key>_file` (preferred) or inline `<key>` (test and custom environments
/// only). A file readable by others is refused.
fn secret(
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    environment: Environment,
    base_dir: &Path,
) -> Result<Secret, (String, String)> {
    let file_key = format!("{key}_file");
    match (inline, file) {
        (Some(_), Some(_)) => Err((
            key.to_owned(),
            format!("set either {key} or {file_key}, not both"),
        )),
        (Some(_), None) if environment == Environment::Production => Err((
            key.to_owned(),
            format!("production secrets must come from {file_key}, not the config file"),
        )),
        (Some(value), None) if value.is_empty() => Err((key.to_owned(), "is empty".to_owned())),
        (Some(value), None) => Ok(Secret(value)),
        (None, None) => Err((file_key, "is required".to_owned())),
        (None, Some(file)) => {
            let file = match std::env::var_os("CREDENTIALS_DIRECTORY") {
                // systemd's LoadCredential: a bare name refers to the credentials directory.
                Some(dir) if file.components().count() == 1 => PathBuf::from(dir).join(&file),
                _ if file.is_relative() => base_dir.join(&file),
                _ => file,
            };
            read_secret_file(&file).map_err(|m| (file_key, m))
        }
    }
}

fn read_secret_file(file: &Path) -> Result<Secret, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mode = meta.permissions().mode();
    if mode & 0o007 != 0 {
        return Err(format!(
            "{} is accessible by others (mode {:04o}); run: chmod o-rwx {}",
            file.display(),
            mode & 0o7777,
            file.display()
        ));
    }
    let value = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("{} is empty", file.display()));
    }
    Ok(Secret(value.to_owned()))
}

/// Finds the line of a dotted key (`vipps.client_id`, `scanner[1].role`) in the TOML text: the
/// line of the key inside its table, else the table header's line. Best effort, for messages.
fn find_line(text: &str, key: &str) -> Option<usize> {
    let (table, field) = key.rsplit_once('.')?;
    let (table, index) = match table.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()?),
        None => (table, 0),
    };
    let mut seen = 0usize;
    let mut header_line = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_matches(|c| c == '[' || c == ']').trim();
            if header_line.is_some() {
                break; // Left our table without finding the key.
            }
            if name == table {
                if seen == index {
                    header_line = Some(n + 1);
                }
                seen += 1;
            }
            continue;
        }
        if header_line.is_some()
            && trimmed
                .strip_prefix(field)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some(n + 1);
        }
    }
    header_line
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[vipps]
client_id = "id"
client_secret = "s"
subscription_key = "k"
merchant_serial_number = "123456"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/loyaltyd/config.toml"))
    }

    #[test]
    fn defaults_are_sane() {
        let config = parse(MINIMAL).expect("valid");
        assert_eq!(config.lane.lane_id, "till-1");
        assert_eq!(config.vipps.base_url, "https://apitest.vipps.no");
        assert_eq!(config.register.mode, 0o660);
        assert_eq!(config.lane.payment_poll_interval, Duration::from_secs(1));
        assert!(config.scanners.is_empty());
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let example = include_str!("../../../../config/loyaltyd.example.toml");
        // The example points at secret files that exist only on a till; swap them for inline
        // values to check everything else.
        let text = example
            .replace(
                "client_secret_file = \"client_secret\"",
                "client_secret = \"x\"",
            )
            .replace(
                "subscription_key_file = \"subscription_key\"",
                "subscription_key = \"y\"",
            );
        let config = parse(&text).expect("the example parses");
        assert_eq!(config.scanners.len(), 2);
        // Every key of the raw config appears in the example, so it documents all of them.
        for key in [
            "id",
            "currency",
            "country_code",
            "idle_timeout",
            "payment_poll_interval",
            "payment_description",
            "check_in",
            "shutdown_grace",
            "environment",
            "client_id",
            "client_secret_file",
            "subscription_key_file",
            "merchant_serial_number",
            "system_name",
            "system_version",
            "plugin_name",
            "plugin_version",
            "connect_timeout",
            "request_timeout",
            "login_scope",
            "path",
            "socket",
            "socket_mode",
            "max_line_bytes",
            "replay_events",
            "name",
            "role",
            "kind",
            "baud",
            "terminator",
            "strip_aim",
            "max_length",
            "duplicate_window",
            "retry_min",
            "retry_max",
            "give_up_after",
            "max_attempts",
            "mode",
            "listen",
            "pin",
            "pull",
            "active",
            "debounce",
            "long_press",
            "device",
            "report_id",
            "count_offset",
            "aim_offset",
            "data_offset",
            "data_capacity",
            "continuation_offset",
            "layout",
            "grab",
            "base_url",
            "client_secret",
            "subscription_key",
            "suffix",
            "prefix",
            "quiet_gap",
            "payment_api",
            "ecom_callback_prefix",
            "ecom_fallback_url",
            "ecom_transaction_text",
            "backend",
            "url",
            "token_file",
            "timeout",
            "cache_ttl",
            "points_per_unit",
            "title",
            "stamps",
            "min_amount",
            "reward",
            "reward_title",
            "reward_description",
            "reward_amount",
            "valid_for_days",
        ] {
            assert!(
                example
                    .lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} ="))),
                "example lacks {key}"
            );
        }
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = parse(&format!("{MINIMAL}\n[lane]\ncurrency = \"SEK\"\n"))
            .expect_err("invalid")
            .to_string();
        assert_eq!(
            err,
            "/etc/loyaltyd/config.toml:9: `lane.currency`: must be NOK, DKK or EUR, got \"SEK\""
        );
        let err = parse(&MINIMAL.replace("123456", "12ab"))
            .expect_err("invalid")
            .to_string();
        assert!(err.contains(":6: `vipps.merchant_serial_number`"), "{err}");
        let err = parse(&format!("{MINIMAL}\n[lane]\nidel_timeout = \"5s\"\n"))
            .expect_err("typo")
            .to_string();
        assert!(
            err.contains("line 9") && err.contains("unknown field `idel_timeout`"),
            "{err}"
        );
        let err = parse(&format!(
            "{MINIMAL}\n[[scanner]]\nname = \"a\"\nrole = \"cashier\"\nkind = \"serial\"\npath = \"/dev/x\"\n\n[[scanner]]\nname = \"b\"\nrole = \"boss\"\nkind = \"serial\"\npath = \"/dev/y\"\n"
        ))
        .expect_err("bad role")
        .to_string();
        assert!(err.contains(":16: `scanner[1].role`"), "{err}");
    }

    #[test]
    fn syntax_errors_never_quote_a_line_that_may_hold_a_secret() {
        let err = parse(&MINIMAL.replace("client_secret = \"s\"", "client_secrte = \"hunter2\""))
            .expect_err("typo")
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            err.contains("line 4") && err.contains("unknown field `client_secrte`"),
            "{err}"
        );
        // Other lines are quoted as toml shows them.
        let err = parse(&MINIMAL.replace("client_id = \"id\"", "client_id = 5"))
            .expect_err("type")
            .to_string();
        assert!(err.contains("client_id = 5"), "{err}");
    }

    #[test]
    fn production_secrets_come_from_private_files() {
        let prod = MINIMAL.replace("[vipps]", "[vipps]\nenvironment = \"production\"");
        let err = parse(&prod).expect_err("inline secret").to_string();
        assert!(
            err.contains("must come from vipps.client_secret_file"),
            "{err}"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let text = prod
            .replace(
                "client_secret = \"s\"",
                &format!("client_secret_file = {:?}", file),
            )
            .replace(
                "subscription_key = \"k\"",
                &format!("subscription_key_file = {:?}", file),
            );
        let err = parse(&text).expect_err("world-readable").to_string();
        assert!(err.contains("accessible by others (mode 0644)"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let config = parse(&text).expect("private file");
        assert_eq!(config.vipps.client_secret, Secret("s3cret".to_owned()));
        assert_eq!(format!("{:?}", config.vipps.client_secret), "<redacted>");
    }
}
