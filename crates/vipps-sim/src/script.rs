//! Script files: customers and QR tokens to load at startup (`vipps-sim --script FILE.json`).
//!
//! ```json
//! {
//!   "customers": { "4712345678": { "payment": "decline", "paymentDelay": 1500 } },
//!   "qrTokens": { "https://qr.vipps.no/p/abc123": "4712345678" }
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::CustomerScript;
use crate::validate;

/// Customer scripts by MSISDN, and tokenized QR contents with the MSISDN each stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SimScript {
    /// Scripts by MSISDN (`4712345678`).
    pub customers: BTreeMap<String, CustomerScript>,
    /// Tokenized QR content → MSISDN, as [`crate::SimHandle::map_qr_token`] takes them.
    pub qr_tokens: BTreeMap<String, String>,
}

/// Why a script cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read.
    #[error("cannot read the script file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The text is not a script.
    #[error("the script is not valid JSON of the expected shape: {0}")]
    Parse(#[from] serde_json::Error),
    /// A customer key is not an MSISDN.
    #[error("customer {0:?} is not an MSISDN (10 to 15 digits, country code first, no +)")]
    Customer(String),
    /// A QR token maps to something that is not an MSISDN.
    #[error("QR token {0:?} must map to an MSISDN (10 to 15 digits, country code first, no +)")]
    QrTarget(String),
}

impl SimScript {
    /// Parses and checks a script.
    pub fn from_json(text: &str) -> Result<Self, ScriptError> {
        let script: Self = serde_json::from_str(text)?;
        if let Some(bad) = script.customers.keys().find(|k| !validate::msisdn(k)) {
            return Err(ScriptError::Customer(bad.clone()));
        }
        if let Some((qr, _)) = script
            .qr_tokens
            .iter()
            .find(|(_, msisdn)| !validate::msisdn(msisdn))
        {
            return Err(ScriptError::QrTarget(qr.clone()));
        }
        Ok(script)
    }

    /// Reads, parses and checks a script file.
    pub fn load(path: &Path) -> Result<Self, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::PaymentBehavior;

    #[test]
    fn parses_customers_and_qr_tokens() {
        let script = SimScript::from_json(
            r#"{"customers":{"4712345678":{"payment":"decline","paymentDelay":1500}},
                "qrTokens":{"https://qr.vipps.no/p/abc":"4712345678"}}"#,
        )
        .unwrap();
        let customer = &script.customers["4712345678"];
        assert_eq!(customer.payment, PaymentBehavior::Decline);
        assert_eq!(customer.payment_delay, Duration::from_millis(1500));
        assert_eq!(script.qr_tokens["https://qr.vipps.no/p/abc"], "4712345678");
    }

    #[test]
    fn refuses_bad_numbers_and_unknown_keys() {
        assert!(matches!(
            SimScript::from_json(r#"{"customers":{"+4712345678":{}}}"#),
            Err(ScriptError::Customer(_))
        ));
        assert!(matches!(
            SimScript::from_json(r#"{"qrTokens":{"x":"12"}}"#),
            Err(ScriptError::QrTarget(_))
        ));
        assert!(matches!(
            SimScript::from_json(r#"{"customer":{}}"#),
            Err(ScriptError::Parse(_))
        ));
        assert!(matches!(
            SimScript::load(Path::new("/nonexistent/script.json")),
            Err(ScriptError::Read { .. })
        ));
    }
}
