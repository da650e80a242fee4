//! `[vipps]`'s payment API: ePayment (the default) or eCom, and what eCom needs.
//!
//! eCom is checked against the rest of the file at load, so that a till never meets at the first
//! customer what it could have been told at start: NOK only, a merchant serial number of 5 or 6
//! digits, the two https URLs eCom requires, and request ids within eCom's 40 characters.

use flow::{Currency, LaneConfig};

use super::{ConfigError, Ctx};

/// The `[vipps]` keys that choose and set up the payment API, as written.
#[derive(Debug)]
pub(super) struct RawPayment {
    /// `payment_api`: `"epayment"` or `"ecom"`.
    pub api: String,
    /// `ecom_callback_prefix`.
    pub callback_prefix: Option<String>,
    /// `ecom_fallback_url`.
    pub fallback_url: Option<String>,
    /// `ecom_transaction_text`; the lane's payment description when absent.
    pub transaction_text: Option<String>,
}

/// Characters of the run id the daemon gives its lane at every start (`app::run`): part of every
/// payment reference.
const RUN_ID_LEN: usize = 8;
/// Digits allowed for the lane's counter in a reference. It grows by two or three per customer,
/// so 8 digits last decades at a busy till before a restart starts it again.
const COUNTER_DIGITS: usize = 8;
/// The longest suffix the lane puts on a reference to make a key (`-create` and `-cancel` are
/// shorter): see `flow::Lane`.
const LONGEST_SUFFIX: &str = "-capture";

/// The longest idempotency key (eCom: `X-Request-Id`) a lane named `lane_id` makes:
/// `{lane_id}-{run id}-{counter}-capture`.
fn longest_key(lane_id: &str) -> usize {
    lane_id.len() + 1 + RUN_ID_LEN + 1 + COUNTER_DIGITS + LONGEST_SUFFIX.len()
}

/// The longest lane id whose keys fit `max_key_len` characters.
fn longest_lane_id(max_key_len: usize) -> usize {
    max_key_len.saturating_sub(longest_key(""))
}

/// Resolves the payment API. With eCom, also checks the lane's currency and id and the merchant
/// serial number against what eCom takes.
pub(super) fn payment_api(
    ctx: Ctx<'_>,
    raw: RawPayment,
    lane: &LaneConfig,
    merchant_serial_number: &str,
) -> Result<::vipps::PaymentApi, ConfigError> {
    let api = match raw.api.as_str() {
        "epayment" => {
            for (key, value) in [
                ("vipps.ecom_callback_prefix", &raw.callback_prefix),
                ("vipps.ecom_fallback_url", &raw.fallback_url),
                ("vipps.ecom_transaction_text", &raw.transaction_text),
            ] {
                if value.is_some() {
                    return Err(ctx.invalid(key, "only allowed with payment_api = \"ecom\""));
                }
            }
            ::vipps::PaymentApi::EPayment
        }
        "ecom" => ::vipps::PaymentApi::Ecom(ecom_settings(ctx, raw, lane)?),
        other => {
            return Err(ctx.invalid(
                "vipps.payment_api",
                format!("must be \"epayment\" or \"ecom\", got {other:?}"),
            ));
        }
    };
    if let ::vipps::PaymentApi::Ecom(_) = api {
        if lane.currency != Currency::Nok {
            return Err(ctx.invalid(
                "lane.currency",
                format!(
                    "must be NOK with vipps.payment_api = \"ecom\" (eCom takes NOK only), got {}",
                    lane.currency
                ),
            ));
        }
        if !(5..=6).contains(&merchant_serial_number.len()) {
            return Err(ctx.invalid(
                "vipps.merchant_serial_number",
                format!(
                    "must be 5 or 6 digits with payment_api = \"ecom\" (eCom's rule), got {merchant_serial_number:?}"
                ),
            ));
        }
    }
    let max_key_len = api.max_key_len();
    if longest_key(&lane.lane_id) > max_key_len {
        return Err(ctx.invalid(
            "lane.id",
            format!(
                "must be at most {} characters with {}, got {} ({:?}): {} takes idempotency keys \
                 of at most {max_key_len} characters, and the lane's capture key is \
                 `<id>-<{RUN_ID_LEN}-character run id>-<counter, up to {COUNTER_DIGITS} digits>{LONGEST_SUFFIX}`",
                longest_lane_id(max_key_len),
                api_setting(&api),
                lane.lane_id.len(),
                lane.lane_id,
                api.name(),
            ),
        ));
    }
    Ok(api)
}

/// How the file selects `api`, for messages.
fn api_setting(api: &::vipps::PaymentApi) -> &'static str {
    match api {
        ::vipps::PaymentApi::EPayment => "payment_api = \"epayment\"",
        ::vipps::PaymentApi::Ecom(_) => "payment_api = \"ecom\"",
    }
}

/// eCom's URLs and the text of its captures and cancels.
fn ecom_settings(
    ctx: Ctx<'_>,
    raw: RawPayment,
    lane: &LaneConfig,
) -> Result<::vipps::EcomSettings, ConfigError> {
    let required = |key: &str, value: Option<String>| {
        value.ok_or_else(|| {
            ctx.invalid(
                key,
                "is required with payment_api = \"ecom\": an https URL of the merchant's, which \
                 eCom requires on every payment (the till itself polls and does not use it)",
            )
        })
    };
    let callback = required("vipps.ecom_callback_prefix", raw.callback_prefix)?;
    let fallback = required("vipps.ecom_fallback_url", raw.fallback_url)?;
    let config_message = |e: ::vipps::Error| match e {
        ::vipps::Error::Config(message) => message,
        other => other.to_string(),
    };
    // A URL that is a valid callback prefix is a valid fallback too: checking the prefix alone
    // first tells which key is wrong.
    ::vipps::ecom::MerchantUrls::new(callback.clone(), callback.clone())
        .map_err(|e| ctx.invalid("vipps.ecom_callback_prefix", config_message(e)))?;
    let urls = ::vipps::ecom::MerchantUrls::new(callback, fallback)
        .map_err(|e| ctx.invalid("vipps.ecom_fallback_url", config_message(e)))?;
    let text = raw
        .transaction_text
        .unwrap_or_else(|| lane.payment_description.clone());
    ::vipps::EcomSettings::new(urls, text)
        .map_err(|e| ctx.invalid("vipps.ecom_transaction_text", config_message(e)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    /// A valid file; `vipps` lines go into `[vipps]`, `lane` lines into `[lane]`.
    fn parse(vipps: &str, lane: &str) -> Result<Config, ConfigError> {
        let text = format!(
            "[lane]\n{lane}\n\n[vipps]\nclient_id = \"id\"\nclient_secret = \"s\"\n\
             subscription_key = \"k\"\nmerchant_serial_number = \"123456\"\n{vipps}\n"
        );
        Config::parse(&text, Path::new("/etc/loyaltyd/config.toml"))
    }

    const ECOM: &str = "payment_api = \"ecom\"\n\
        ecom_callback_prefix = \"https://shop.example.no/vipps\"\n\
        ecom_fallback_url = \"https://shop.example.no\"";

    fn error(vipps: &str, lane: &str) -> String {
        parse(vipps, lane).expect_err("invalid").to_string()
    }

    #[test]
    fn epayment_is_the_default_and_takes_any_number() {
        let config = parse("", "").expect("valid");
        assert_eq!(config.vipps.payment_api, ::vipps::PaymentApi::EPayment);
        assert!(!config.lane.norwegian_numbers_only);
        let config = parse("payment_api = \"epayment\"", "").expect("valid");
        assert_eq!(config.vipps.payment_api, ::vipps::PaymentApi::EPayment);
    }

    #[test]
    fn ecom_is_selected_with_its_urls_and_takes_norwegian_numbers_only() {
        let config = parse(ECOM, "payment_description = \"Bakery sale\"").expect("valid");
        let ::vipps::PaymentApi::Ecom(settings) = &config.vipps.payment_api else {
            panic!("eCom expected: {:?}", config.vipps.payment_api);
        };
        assert_eq!(
            settings.urls().callback_prefix(),
            "https://shop.example.no/vipps"
        );
        assert_eq!(settings.urls().fallback(), "https://shop.example.no");
        // Captures and cancels show the payment description unless told otherwise.
        assert_eq!(settings.modification_text(), "Bakery sale");
        assert!(config.lane.norwegian_numbers_only);

        let config = parse(
            &format!("{ECOM}\necom_transaction_text = \"Kari's Bakery\""),
            "",
        )
        .expect("valid");
        let ::vipps::PaymentApi::Ecom(settings) = &config.vipps.payment_api else {
            panic!("eCom expected");
        };
        assert_eq!(settings.modification_text(), "Kari's Bakery");
    }

    #[test]
    fn ecom_needs_both_https_urls_and_names_the_wrong_one() {
        let err = error("payment_api = \"ecom\"", "");
        assert!(
            err.contains("`vipps.ecom_callback_prefix`: is required"),
            "{err}"
        );
        let err = error(
            "payment_api = \"ecom\"\necom_callback_prefix = \"https://shop.example.no/vipps\"",
            "",
        );
        assert!(
            err.contains("`vipps.ecom_fallback_url`: is required"),
            "{err}"
        );
        let err = error(
            &ECOM.replace(
                "https://shop.example.no/vipps",
                "http://shop.example.no/vipps",
            ),
            "",
        );
        assert!(
            err.contains("`vipps.ecom_callback_prefix`") && err.contains("https"),
            "{err}"
        );
        let err = error(
            &ECOM.replace("\"https://shop.example.no\"", "\"shop.example.no\""),
            "",
        );
        assert!(err.contains("`vipps.ecom_fallback_url`"), "{err}");
        let err = error(
            &format!("{ECOM}\necom_transaction_text = \"{}\"", "x".repeat(101)),
            "",
        );
        assert!(err.contains("`vipps.ecom_transaction_text`"), "{err}");
    }

    #[test]
    fn ecom_settings_are_refused_with_epayment() {
        let err = error("ecom_fallback_url = \"https://shop.example.no\"", "");
        assert!(
            err.contains("`vipps.ecom_fallback_url`: only allowed with payment_api = \"ecom\""),
            "{err}"
        );
        let err = error("payment_api = \"vipps\"", "");
        assert!(
            err.contains("`vipps.payment_api`: must be \"epayment\" or \"ecom\""),
            "{err}"
        );
    }

    #[test]
    fn ecom_takes_nok_and_a_five_or_six_digit_merchant_serial_number() {
        let err = error(ECOM, "currency = \"DKK\"");
        assert!(
            err.contains("`lane.currency`: must be NOK with vipps.payment_api = \"ecom\""),
            "{err}"
        );
        let text = format!(
            "[vipps]\nclient_id = \"id\"\nclient_secret = \"s\"\nsubscription_key = \"k\"\n\
             merchant_serial_number = \"1234\"\n{ECOM}\n"
        );
        let err = Config::parse(&text, Path::new("/etc/loyaltyd/config.toml"))
            .expect_err("4 digits")
            .to_string();
        assert!(
            err.contains(
                "`vipps.merchant_serial_number`: must be 5 or 6 digits with payment_api = \"ecom\""
            ),
            "{err}"
        );
        // ePayment takes 4 digits.
        let text = text.replace(ECOM, "");
        Config::parse(&text, Path::new("/etc/loyaltyd/config.toml")).expect("ePayment");
    }

    #[test]
    fn ecom_refuses_a_lane_id_whose_keys_could_pass_40_characters() {
        let fourteen = "id = \"store-12-till1\"";
        let config = parse(ECOM, fourteen).expect("14 characters fit");
        assert_eq!(config.lane.lane_id.len(), 14);
        let err = error(ECOM, "id = \"store-12-till-1\"");
        assert!(
            err.contains(
                "`lane.id`: must be at most 14 characters with payment_api = \"ecom\", got 15"
            ),
            "{err}"
        );
        assert!(err.contains("at most 40 characters"), "{err}");
        assert!(err.contains("-capture"), "{err}");
        // ePayment takes every lane id the file allows.
        parse("", "id = \"store-12-till-01\"").expect("16 characters with ePayment");
    }

    #[test]
    fn the_longest_key_is_the_capture_key_of_the_largest_counter() {
        assert_eq!(
            longest_key("till-1"),
            "till-1-abcd1234-99999999-capture".len()
        );
        assert_eq!(longest_lane_id(40), 14);
        assert_eq!(longest_lane_id(50), 24);
        // Every lane id the file allows (16 characters) fits ePayment's 50.
        assert!(longest_key(&"x".repeat(16)) <= 50);
    }
}
