//! Validation of eCom v2 request bodies against `ecom-v2.yaml` (v2.0.3): every schema rule of
//! `InitiatePaymentCommand`, `PaymentActionsRequest` and `CancelPaymentActionRequest`, with every
//! invalid field reported at once under its dotted name, as eCom does. Fields the schema does not
//! know are ignored, as the schema allows them.
//!
//! Beyond the schema, the simulator enforces what the API guide says in prose: `callbackPrefix`
//! is an HTTPS URL and `fallBack` an HTTPS URL or a custom scheme (unless `isApp`), an express
//! payment needs `consentRemovalPrefix`, and capture and refund bodies need `merchantInfo` and
//! `transaction` (the schema forgot to require them; the guide's examples always have them).

use serde_json::{Map, Value};

use crate::api::{FieldError, Fields};
use crate::validate;

/// The least amount, in øre (1 NOK).
const AMOUNT_MIN: i64 = 100;
/// The longest `transactionText`.
const TEXT_MAX: usize = 100;
/// The longest URL or token in `merchantInfo`.
const URL_MAX: usize = 255;
/// `merchantInfo.paymentType`.
const PAYMENT_TYPES: [&str; 2] = ["eComm Regular Payment", "eComm Express Payment"];
/// `transaction.additionalData`'s required strings and their length bounds.
const AIRLINE_FIELDS: [(&str, usize, usize); 4] = [
    ("passengerName", 1, 49),
    ("airlineCode", 3, 3),
    ("airlineDesignatorCode", 2, 2),
    ("agencyInvoiceNumber", 1, 6),
];

/// An `orderId`: `^[a-zA-Z0-9-]{1,50}$`.
pub(super) fn order_id(value: &str) -> bool {
    (1..=50).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A Norwegian mobile number as eCom wants it: `^\d{8}$`, no country code.
pub(super) fn mobile_number(value: &str) -> bool {
    validate::digits(value, 8, 8)
}

/// An `InitiatePaymentCommand` that passed validation (the mobile number's format is checked
/// by the caller, since eCom answers it with its own error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Initiate {
    pub merchant_serial_number: String,
    pub order_id: String,
    /// Øre.
    pub amount: i64,
    pub transaction_text: String,
    pub mobile_number: Option<String>,
    pub skip_landing_page: bool,
}

/// A capture or refund body (`PaymentActionsRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Action {
    pub merchant_serial_number: String,
    /// Øre; `None` means all that is left.
    pub amount: Option<i64>,
    pub transaction_text: String,
}

/// A cancel body (`CancelPaymentActionRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cancel {
    pub merchant_serial_number: String,
    pub transaction_text: String,
    /// `shouldReleaseRemainingFunds`.
    pub release_remaining: bool,
}

/// Collects field errors while a body is read.
#[derive(Debug, Default)]
struct Check {
    errors: Vec<FieldError>,
}

impl Check {
    fn ok<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|err| self.errors.push(err)).ok()
    }

    fn fail(&mut self, fields: Fields<'_>, field: &str, reason: impl Into<String>) {
        self.errors
            .push(FieldError::new(&fields.name(field), reason));
    }

    /// A required object, whose fields are named under `path` (its full dotted name).
    fn object<'a>(
        &mut self,
        fields: Fields<'a>,
        field: &str,
        path: &'static str,
    ) -> Option<Fields<'a>> {
        let map = self.ok(fields.object(field))?;
        Some(Fields::nested(map, path))
    }

    /// An optional object, whose fields are named under `path`.
    fn opt_object<'a>(
        &mut self,
        fields: Fields<'a>,
        field: &str,
        path: &'static str,
    ) -> Option<Fields<'a>> {
        fields.get(field)?;
        self.object(fields, field, path)
    }

    /// A required string of at most `max` characters.
    fn text<'a>(&mut self, fields: Fields<'a>, field: &str, max: usize) -> Option<&'a str> {
        let value = self.ok(fields.str(field))?;
        self.within(fields, field, value, 0, max)
    }

    /// An optional string of at most `max` characters.
    fn opt_text<'a>(&mut self, fields: Fields<'a>, field: &str, max: usize) -> Option<&'a str> {
        let value = self.ok(fields.opt_str(field))??;
        self.within(fields, field, value, 0, max)
    }

    fn within<'a>(
        &mut self,
        fields: Fields<'_>,
        field: &str,
        value: &'a str,
        min: usize,
        max: usize,
    ) -> Option<&'a str> {
        let length = value.chars().count();
        if (min..=max).contains(&length) {
            Some(value)
        } else {
            self.fail(
                fields,
                field,
                format!("Must be {min} to {max} characters long."),
            );
            None
        }
    }

    /// An optional boolean.
    fn opt_bool(&mut self, fields: Fields<'_>, field: &str) -> Option<bool> {
        fields.get(field)?;
        self.ok(fields.bool(field))
    }

    /// An amount in øre, at least 1 NOK.
    fn amount(&mut self, fields: Fields<'_>, field: &str) -> Option<i64> {
        let amount = self.ok(fields.integer(field))?;
        if amount < AMOUNT_MIN {
            self.fail(
                fields,
                field,
                format!("Must be at least {AMOUNT_MIN} (øre)."),
            );
            return None;
        }
        Some(amount)
    }

    /// `merchantInfo.merchantSerialNumber`: a string of 5 or 6 digits.
    fn merchant_serial_number<'a>(&mut self, merchant: Fields<'a>) -> Option<&'a str> {
        let msn = self.ok(merchant.str("merchantSerialNumber"))?;
        if validate::digits(msn, 5, 6) {
            Some(msn)
        } else {
            self.fail(
                merchant,
                "merchantSerialNumber",
                "Must be a string of 5 or 6 digits (^\\d{5,}$).",
            );
            None
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

/// Validates an `InitiatePaymentCommand`.
pub(super) fn parse_initiate(map: &Map<String, Value>) -> Result<Initiate, Vec<FieldError>> {
    let fields = Fields::new(map);
    let mut check = Check::default();

    let customer = check.object(fields, "customerInfo", "customerInfo");
    let mobile_number = customer.and_then(|c| check.ok(c.opt_str("mobileNumber")).flatten());

    let merchant = check.object(fields, "merchantInfo", "merchantInfo");
    let merchant_serial_number = merchant.and_then(|m| check.merchant_serial_number(m));
    if let Some(merchant) = merchant {
        check_merchant_urls(&mut check, merchant);
    }

    let transaction = check.object(fields, "transaction", "transaction");
    let mut initiate = None;
    if let Some(transaction) = transaction {
        let amount = check.amount(transaction, "amount");
        let order = check.ok(transaction.str("orderId"));
        if let Some(order) = order
            && !order_id(order)
        {
            check.fail(
                transaction,
                "orderId",
                "Must match the pattern ^[a-zA-Z0-9-]{1,50}$.",
            );
        }
        let text = check.text(transaction, "transactionText", TEXT_MAX);
        let skip_landing_page = check.opt_bool(transaction, "skipLandingPage");
        check.ok(transaction.opt_str("scope"));
        check.opt_bool(transaction, "useExplicitCheckoutFlow");
        if let Some(airline) =
            check.opt_object(transaction, "additionalData", "transaction.additionalData")
        {
            for (field, min, max) in AIRLINE_FIELDS {
                if let Some(value) = check.ok(airline.str(field)) {
                    check.within(airline, field, value, min, max);
                }
            }
            if let Some(ticket) = check.ok(airline.opt_str("ticketNumber")).flatten() {
                check.within(airline, "ticketNumber", ticket, 1, 150);
            }
        }
        if let (Some(amount), Some(order), Some(text), Some(msn)) =
            (amount, order, text, merchant_serial_number)
        {
            initiate = Some(Initiate {
                merchant_serial_number: msn.to_owned(),
                order_id: order.to_owned(),
                amount,
                transaction_text: text.to_owned(),
                mobile_number: mobile_number.map(str::to_owned),
                skip_landing_page: skip_landing_page.unwrap_or(false),
            });
        }
    }
    check.finish(initiate)
}

/// The URLs, tokens and options of `merchantInfo` in an initiate call.
fn check_merchant_urls(check: &mut Check, merchant: Fields<'_>) {
    let is_app = check.opt_bool(merchant, "isApp").unwrap_or(false);
    if let Some(url) = check.text(merchant, "callbackPrefix", URL_MAX)
        && !is_app
        && !is_https(url)
    {
        check.fail(merchant, "callbackPrefix", "Must be an HTTPS URL.");
    }
    if let Some(url) = check.text(merchant, "fallBack", URL_MAX)
        && !is_app
        && !(is_https(url) || is_app_scheme(url))
    {
        check.fail(
            merchant,
            "fallBack",
            "Must be an HTTPS URL or a custom URL scheme (myapp://…).",
        );
    }
    check.opt_text(merchant, "authToken", URL_MAX);
    check.opt_text(merchant, "shippingDetailsPrefix", URL_MAX);
    let consent_removal = check.opt_text(merchant, "consentRemovalPrefix", URL_MAX);
    if let Some(kind) = check.ok(merchant.opt_str("paymentType")).flatten() {
        if !PAYMENT_TYPES.contains(&kind) {
            check.fail(
                merchant,
                "paymentType",
                "Must be \"eComm Regular Payment\" or \"eComm Express Payment\".",
            );
        } else if kind == "eComm Express Payment" && consent_removal.is_none() {
            check.fail(
                merchant,
                "consentRemovalPrefix",
                "Express payments need a consentRemovalPrefix.",
            );
        }
    }
    if let Some(shipping) = merchant.get("staticShippingDetails") {
        check_static_shipping(check, merchant, shipping);
    }
}

/// `merchantInfo.staticShippingDetails`: a list of `ShippingDetails`.
fn check_static_shipping(check: &mut Check, merchant: Fields<'_>, value: &Value) {
    const FIELD: &str = "staticShippingDetails";
    let Some(items) = value.as_array() else {
        check.fail(merchant, FIELD, "Must be a list of shipping details.");
        return;
    };
    for item in items {
        let Some(details) = item.as_object() else {
            check.fail(merchant, FIELD, "Every entry must be an object.");
            continue;
        };
        let details = Fields::nested(details, "merchantInfo.staticShippingDetails");
        if let Some(default) = check.ok(details.str("isDefault"))
            && !matches!(default, "Y" | "N")
        {
            check.fail(details, "isDefault", "Must be Y or N.");
        }
        if let Some(cost) = check.ok(details.number("shippingCost"))
            && cost < 0.0
        {
            check.fail(details, "shippingCost", "Must not be negative.");
        }
        check.text(details, "shippingMethod", 256);
        check.text(details, "shippingMethodId", 100);
        if details.get("priority").is_some() {
            check.ok(details.integer("priority"));
        }
    }
}

/// Validates a capture or refund body (`PaymentActionsRequest`).
pub(super) fn parse_action(map: &Map<String, Value>) -> Result<Action, Vec<FieldError>> {
    let fields = Fields::new(map);
    let mut check = Check::default();
    let merchant = check.object(fields, "merchantInfo", "merchantInfo");
    let msn = merchant.and_then(|m| check.merchant_serial_number(m));
    let transaction = check.object(fields, "transaction", "transaction");
    let mut action = None;
    if let Some(transaction) = transaction {
        let amount = match transaction.get("amount") {
            None => Some(None),
            Some(_) => check.amount(transaction, "amount").map(Some),
        };
        let text = check.text(transaction, "transactionText", TEXT_MAX);
        if let (Some(msn), Some(amount), Some(text)) = (msn, amount, text) {
            action = Some(Action {
                merchant_serial_number: msn.to_owned(),
                amount,
                transaction_text: text.to_owned(),
            });
        }
    }
    check.finish(action)
}

/// Validates a cancel body (`CancelPaymentActionRequest`).
pub(super) fn parse_cancel(map: &Map<String, Value>) -> Result<Cancel, Vec<FieldError>> {
    let fields = Fields::new(map);
    let mut check = Check::default();
    let merchant = check.object(fields, "merchantInfo", "merchantInfo");
    let msn = merchant.and_then(|m| check.merchant_serial_number(m));
    let text = check
        .object(fields, "transaction", "transaction")
        .and_then(|t| check.text(t, "transactionText", TEXT_MAX));
    let release = check.opt_bool(fields, "shouldReleaseRemainingFunds");
    let cancel = match (msn, text) {
        (Some(msn), Some(text)) => Some(Cancel {
            merchant_serial_number: msn.to_owned(),
            transaction_text: text.to_owned(),
            release_remaining: release.unwrap_or(false),
        }),
        _ => None,
    };
    check.finish(cancel)
}

/// `https://` and something after it, without spaces.
fn is_https(url: &str) -> bool {
    url.strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
}

/// A custom scheme (`myapp://…`): letters, digits, `+`, `.`, `-`, starting with a letter; plain
/// `http` is not one.
fn is_app_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && !scheme.eq_ignore_ascii_case("http")
        && !url.contains(char::is_whitespace)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn initiate_body() -> Value {
        json!({
            "customerInfo": { "mobileNumber": "12345678" },
            "merchantInfo": {
                "merchantSerialNumber": "123456",
                "callbackPrefix": "https://till.example.com/vipps",
                "fallBack": "https://till.example.com/done",
            },
            "transaction": {
                "amount": 10_000,
                "orderId": "order-1",
                "transactionText": "Groceries",
                "skipLandingPage": true,
            },
        })
    }

    /// The names of the invalid fields of an initiate body.
    fn initiate_errors(value: &Value) -> Vec<String> {
        parse_initiate(value.as_object().unwrap())
            .unwrap_err()
            .into_iter()
            .map(|e| e.name)
            .collect()
    }

    #[test]
    fn a_valid_initiate_is_read() {
        let parsed = parse_initiate(initiate_body().as_object().unwrap()).unwrap();
        assert_eq!(
            parsed,
            Initiate {
                merchant_serial_number: "123456".into(),
                order_id: "order-1".into(),
                amount: 10_000,
                transaction_text: "Groceries".into(),
                mobile_number: Some("12345678".into()),
                skip_landing_page: true,
            }
        );
    }

    #[test]
    fn every_invalid_initiate_field_is_named() {
        let mut body = initiate_body();
        body["merchantInfo"]["merchantSerialNumber"] = json!(123456);
        body["merchantInfo"]["callbackPrefix"] = json!("http://till.example.com");
        body["merchantInfo"]["fallBack"] = json!(null);
        body["merchantInfo"]["paymentType"] = json!("eComm Express Payment");
        body["transaction"]["amount"] = json!(99);
        body["transaction"]["orderId"] = json!("order_1");
        body["transaction"]["transactionText"] = json!("x".repeat(101));
        body["transaction"]["skipLandingPage"] = json!("yes");
        body["transaction"]["additionalData"] = json!({ "airlineCode": "12" });
        assert_eq!(
            initiate_errors(&body),
            [
                "merchantInfo.merchantSerialNumber",
                "merchantInfo.callbackPrefix",
                "merchantInfo.fallBack",
                "merchantInfo.consentRemovalPrefix",
                "transaction.amount",
                "transaction.orderId",
                "transaction.transactionText",
                "transaction.skipLandingPage",
                "transaction.additionalData.passengerName",
                "transaction.additionalData.airlineCode",
                "transaction.additionalData.airlineDesignatorCode",
                "transaction.additionalData.agencyInvoiceNumber",
            ]
        );
        assert_eq!(
            initiate_errors(&json!({})),
            ["customerInfo", "merchantInfo", "transaction"]
        );
    }

    #[test]
    fn apps_may_use_custom_schemes() {
        let mut body = initiate_body();
        body["merchantInfo"]["fallBack"] = json!("till-app://done");
        assert!(parse_initiate(body.as_object().unwrap()).is_ok());
        body["merchantInfo"]["fallBack"] = json!("http://till.example.com");
        assert_eq!(initiate_errors(&body), ["merchantInfo.fallBack"]);
        body["merchantInfo"]["isApp"] = json!(true);
        body["merchantInfo"]["callbackPrefix"] = json!("anything");
        assert!(parse_initiate(body.as_object().unwrap()).is_ok());
    }

    #[test]
    fn action_and_cancel_bodies() {
        let action = json!({
            "merchantInfo": { "merchantSerialNumber": "123456" },
            "transaction": { "transactionText": "Groceries" },
        });
        let parsed = parse_action(action.as_object().unwrap()).unwrap();
        assert_eq!(parsed.amount, None, "no amount: everything");
        let mut partial = action.clone();
        partial["transaction"]["amount"] = json!(2_500);
        assert_eq!(
            parse_action(partial.as_object().unwrap()).unwrap().amount,
            Some(2_500)
        );
        partial["transaction"]["amount"] = json!(50);
        assert!(parse_action(partial.as_object().unwrap()).is_err());
        assert!(parse_action(json!({ "transaction": {} }).as_object().unwrap()).is_err());

        let mut cancel = action.clone();
        cancel["shouldReleaseRemainingFunds"] = json!(true);
        let parsed = parse_cancel(cancel.as_object().unwrap()).unwrap();
        assert!(parsed.release_remaining);
        cancel["shouldReleaseRemainingFunds"] = json!("true");
        assert!(parse_cancel(cancel.as_object().unwrap()).is_err());
    }

    #[test]
    fn identifiers() {
        assert!(order_id("a") && order_id("order-123") && order_id(&"9".repeat(50)));
        assert!(!order_id("") && !order_id("order_1") && !order_id(&"9".repeat(51)));
        assert!(mobile_number("91234567"));
        for bad in ["4791234567", "+4791234567", "9123456", "9123 4567"] {
            assert!(!mobile_number(bad), "{bad}");
        }
    }
}
