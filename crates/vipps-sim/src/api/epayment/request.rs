//! Validation of `CreatePaymentRequest` and `Amount` bodies, in the order and with the error
//! codes Vipps uses: schema violations name the field and carry no code; business rules carry
//! their ePayment code.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::api::Fields;
use crate::payment::{Currency, Money};
use crate::reply::Problem;
use crate::validate;

/// The largest amount, in minor units.
const AMOUNT_MAX: i64 = 65_000_000;
/// The scopes `profile.scope` may ask for.
const PROFILE_SCOPES: [&str; 6] = [
    "name",
    "address",
    "email",
    "phoneNumber",
    "birthDate",
    "nin",
];
/// Bounds of a long-living payment's `expiresAt`, from now.
const EXPIRES_AT_MIN: Duration = Duration::from_secs(10 * 60);
const EXPIRES_AT_MAX: Duration = Duration::from_secs(28 * 24 * 3600);

/// How the payment request addresses the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CustomerRef {
    /// `customer.phoneNumber`, an MSISDN.
    Phone(String),
    /// `customer.personalQr`, the scanned QR content.
    PersonalQr(String),
    /// `customer.customerToken` (the simulator issues none, so none resolves).
    Token,
}

/// A `CreatePaymentRequest` that passed schema validation.
#[derive(Debug, Clone)]
pub(super) struct CreateRequest {
    pub reference: String,
    pub amount: Money,
    pub customer: CustomerRef,
    /// Whether `profile.scope` asked for user information.
    pub profile_scope: bool,
    pub expires_at: Option<jiff::Timestamp>,
    pub metadata: Option<Value>,
}

/// Validates a `CreatePaymentRequest` body (customer resolution comes later).
pub(super) fn parse_create(map: &Map<String, Value>) -> Result<CreateRequest, Problem> {
    let fields = Fields::new(map);
    let amount_fields = Fields::nested(fields.object("amount").map_err(|e| e.problem())?, "amount");
    let amount = parse_amount(amount_fields)?;
    if amount.value < amount.currency.minimum() {
        return Err(Problem::invalid(
            "amount.value",
            format!(
                "The amount must be at least {} in {}.",
                amount.currency.minimum(),
                amount.currency.as_str()
            ),
        )
        .code(6010));
    }

    let method = Fields::nested(
        fields.object("paymentMethod").map_err(|e| e.problem())?,
        "paymentMethod",
    );
    match method.str("type").map_err(|e| e.problem())? {
        "WALLET" => {}
        "CARD" => {
            return Err(Problem::invalid(
                "paymentMethod.type",
                "CARD needs userFlow WEB_REDIRECT; a push payment uses WALLET.",
            )
            .code(4160));
        }
        _ => return Err(field("paymentMethod.type", "Must be WALLET or CARD.")),
    }

    let reference = fields.str("reference").map_err(|e| e.problem())?;
    if !validate::reference(reference) {
        return Err(field(
            "reference",
            "Must match the pattern ^[a-zA-Z0-9-]{8,50}$.",
        ));
    }

    match fields.str("userFlow").map_err(|e| e.problem())? {
        "PUSH_MESSAGE" => {}
        "NATIVE_REDIRECT" | "WEB_REDIRECT" | "QR" => {
            return Err(field(
                "userFlow",
                "vipps-sim simulates only PUSH_MESSAGE payments.",
            ));
        }
        _ => {
            return Err(field(
                "userFlow",
                "Must be PUSH_MESSAGE, NATIVE_REDIRECT, WEB_REDIRECT or QR.",
            ));
        }
    }
    let customer = parse_customer(fields)?;

    if let Some(interaction) = fields
        .opt_str("customerInteraction")
        .map_err(|e| e.problem())?
        && !matches!(interaction, "CUSTOMER_PRESENT" | "CUSTOMER_NOT_PRESENT")
    {
        return Err(field(
            "customerInteraction",
            "Must be CUSTOMER_PRESENT or CUSTOMER_NOT_PRESENT.",
        ));
    }
    if let Some(description) = fields
        .opt_str("paymentDescription")
        .map_err(|e| e.problem())?
        && !(3..=100).contains(&description.chars().count())
    {
        return Err(field(
            "paymentDescription",
            "Must be 3 to 100 characters long.",
        ));
    }
    let metadata = parse_metadata(fields)?;
    let profile_scope = parse_profile_scope(fields)?;
    let expires_at = parse_expires_at(fields)?;

    Ok(CreateRequest {
        reference: reference.to_owned(),
        amount,
        customer,
        profile_scope,
        expires_at,
        metadata,
    })
}

/// A schema violation of one field (no error code).
pub(super) fn field(name: &str, reason: &str) -> Problem {
    Problem::invalid(name, reason)
}

/// An `Amount`: a known currency and an integer value from 0 to 65 000 000.
pub(super) fn parse_amount(fields: Fields<'_>) -> Result<Money, Problem> {
    let code = fields.str("currency").map_err(|e| e.problem())?;
    let currency = Currency::parse(code)
        .ok_or_else(|| Problem::invalid(&fields.name("currency"), "Must be NOK, DKK or EUR."))?;
    let value = fields.integer("value").map_err(|e| e.problem())?;
    if !(0..=AMOUNT_MAX).contains(&value) {
        return Err(Problem::invalid(
            &fields.name("value"),
            format!("Must be an integer from 0 to {AMOUNT_MAX} (minor units)."),
        ));
    }
    Ok(Money { currency, value })
}

/// `customer`, required for `PUSH_MESSAGE`, with exactly one of its three ways to name a person.
fn parse_customer(fields: Fields<'_>) -> Result<CustomerRef, Problem> {
    let Some(value) = fields.get("customer") else {
        return Err(Problem::invalid(
            "customer",
            "A customer is required for userFlow PUSH_MESSAGE.",
        )
        .code(4140));
    };
    let map = value
        .as_object()
        .ok_or_else(|| field("customer", "Must be an object."))?;
    let customer = Fields::nested(map, "customer");
    let given: Vec<&str> = ["phoneNumber", "personalQr", "customerToken"]
        .into_iter()
        .filter(|name| customer.get(name).is_some())
        .collect();
    match given.as_slice() {
        [] => Err(Problem::invalid(
            "customer",
            "One of phoneNumber, personalQr and customerToken is required.",
        )
        .code(4140)),
        ["phoneNumber"] => {
            let number = customer.str("phoneNumber").map_err(|e| e.problem())?;
            if validate::msisdn(number) {
                Ok(CustomerRef::Phone(number.to_owned()))
            } else {
                Err(Problem::invalid(
                    "customer.phoneNumber",
                    "Must be an MSISDN: country code and number, 10 to 15 digits, no + or spaces.",
                )
                .code(4070))
            }
        }
        ["personalQr"] => {
            let qr = customer.str("personalQr").map_err(|e| e.problem())?;
            if (5..=255).contains(&qr.chars().count()) {
                Ok(CustomerRef::PersonalQr(qr.to_owned()))
            } else {
                Err(field(
                    "customer.personalQr",
                    "Must be 5 to 255 characters long.",
                ))
            }
        }
        ["customerToken"] => {
            customer.str("customerToken").map_err(|e| e.problem())?;
            Ok(CustomerRef::Token)
        }
        _ => Err(field(
            "customer",
            "Specify only one of phoneNumber, personalQr and customerToken.",
        )),
    }
}

/// `metadata`: at most 5 string pairs, keys up to 100 and values up to 500 characters.
fn parse_metadata(fields: Fields<'_>) -> Result<Option<Value>, Problem> {
    let Some(value) = fields.get("metadata") else {
        return Ok(None);
    };
    let map = value
        .as_object()
        .ok_or_else(|| field("metadata", "Must be an object of strings."))?;
    if map.len() > 5 {
        return Err(Problem::invalid("metadata", "At most 5 key-value pairs.").code(4100));
    }
    for (key, value) in map {
        if key.chars().count() > 100 {
            return Err(
                Problem::invalid("metadata", "Keys are at most 100 characters.").code(4120),
            );
        }
        let text = value
            .as_str()
            .ok_or_else(|| field("metadata", "Values must be strings."))?;
        if text.chars().count() > 500 {
            return Err(
                Problem::invalid("metadata", "Values are at most 500 characters.").code(4130),
            );
        }
    }
    Ok(Some(value.clone()))
}

/// `profile.scope`: whether user info was asked for (then `profile.sub` is reported once
/// authorized).
fn parse_profile_scope(fields: Fields<'_>) -> Result<bool, Problem> {
    let Some(value) = fields.get("profile") else {
        return Ok(false);
    };
    let map = value
        .as_object()
        .ok_or_else(|| field("profile", "Must be an object."))?;
    let Some(scope) = Fields::nested(map, "profile")
        .opt_str("scope")
        .map_err(|e| e.problem())?
    else {
        return Ok(false);
    };
    if let Some(unknown) = scope
        .split_whitespace()
        .find(|s| !PROFILE_SCOPES.contains(s))
    {
        return Err(
            Problem::invalid("profile.scope", format!("Unknown scope {unknown:?}.")).code(4080),
        );
    }
    Ok(scope.split_whitespace().next().is_some())
}

/// `expiresAt` of a long-living payment: RFC 3339, 10 minutes to 28 days ahead, with a receipt.
fn parse_expires_at(fields: Fields<'_>) -> Result<Option<jiff::Timestamp>, Problem> {
    let Some(text) = fields.opt_str("expiresAt").map_err(|e| e.problem())? else {
        return Ok(None);
    };
    let at = validate::rfc3339(text)
        .ok_or_else(|| field("expiresAt", "Must be an RFC 3339 date-time with an offset."))?;
    if fields.get("receipt").is_none() {
        return Err(Problem::invalid(
            "receipt",
            "A long-living payment (expiresAt) requires a receipt.",
        )
        .code(6130));
    }
    let ahead = at.duration_since(jiff::Timestamp::now());
    let too_soon = ahead.is_negative() || ahead.unsigned_abs() < EXPIRES_AT_MIN;
    if too_soon {
        return Err(Problem::invalid("expiresAt", "Must be at least 10 minutes ahead.").code(6120));
    }
    if ahead.unsigned_abs() > EXPIRES_AT_MAX {
        return Err(Problem::invalid("expiresAt", "Must be at most 28 days ahead.").code(6110));
    }
    Ok(Some(at))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn valid() -> Value {
        json!({
            "amount": { "currency": "NOK", "value": 49900 },
            "paymentMethod": { "type": "WALLET" },
            "reference": "order-0001",
            "userFlow": "PUSH_MESSAGE",
            "customer": { "phoneNumber": "4712345678" },
            "customerInteraction": "CUSTOMER_PRESENT",
        })
    }

    fn with(mut value: Value, pointer: &str, replacement: Value) -> Value {
        if let Some(slot) = value.pointer_mut(pointer) {
            *slot = replacement;
        }
        value
    }

    fn error(value: Value) -> Problem {
        parse_create(&body(value)).unwrap_err()
    }

    #[test]
    fn a_valid_push_payment_parses() {
        let request = parse_create(&body(valid())).unwrap();
        assert_eq!(request.reference, "order-0001");
        assert_eq!(request.customer, CustomerRef::Phone("4712345678".into()));
        assert_eq!(request.amount.value, 49900);
    }

    #[test]
    fn schema_violations_name_the_field_without_a_code() {
        let p = error(with(valid(), "/reference", json!("short")));
        assert!(p.names("reference"));
        assert_eq!(p.error_code(), None);
        let p = error(with(valid(), "/amount/currency", json!("SEK")));
        assert!(p.names("amount.currency"));
        let p = error(with(valid(), "/amount/value", json!(100.5)));
        assert!(p.names("amount.value"));
        let p = error(with(valid(), "/userFlow", json!("WEB_REDIRECT")));
        assert!(p.names("userFlow"));
        let p = error(with(
            valid(),
            "/customer",
            json!({"phoneNumber": "4712345678", "personalQr": "https://qr.vipps.no/p/x"}),
        ));
        assert!(p.names("customer"));
    }

    #[test]
    fn business_rules_carry_epayment_codes() {
        assert_eq!(
            error(with(valid(), "/amount/value", json!(99))).error_code(),
            Some("6010")
        );
        assert!(
            parse_create(&body(with(
                with(valid(), "/amount/value", json!(1)),
                "/amount/currency",
                json!("DKK")
            )))
            .is_ok()
        );
        assert_eq!(
            error(with(valid(), "/customer/phoneNumber", json!("+4712345678"))).error_code(),
            Some("4070")
        );
        assert_eq!(
            error(with(valid(), "/customer", json!({}))).error_code(),
            Some("4140")
        );
        assert_eq!(
            error(with(valid(), "/paymentMethod/type", json!("CARD"))).error_code(),
            Some("4160")
        );
        let mut no_customer = valid();
        no_customer.as_object_mut().map(|m| m.remove("customer"));
        assert_eq!(error(no_customer).error_code(), Some("4140"));
        assert_eq!(
            error(with(valid(), "/customerInteraction", json!("IN_STORE"))).error_code(),
            None
        );
    }

    #[test]
    fn optional_fields_are_checked() {
        let mut v = valid();
        v["metadata"] = json!({"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6"});
        assert_eq!(error(v).error_code(), Some("4100"));
        let mut v = valid();
        v["profile"] = json!({"scope": "name shoeSize"});
        assert_eq!(error(v).error_code(), Some("4080"));
        let mut v = valid();
        v["profile"] = json!({"scope": "name phoneNumber"});
        assert!(parse_create(&body(v)).unwrap().profile_scope);
        let mut v = valid();
        v["paymentDescription"] = json!("ab");
        assert!(error(v).names("paymentDescription"));
        let mut v = valid();
        v["expiresAt"] = json!("2020-01-01T00:00:00Z");
        v["receipt"] = json!({});
        assert_eq!(error(v).error_code(), Some("6120"));
        let mut v = valid();
        v["expiresAt"] =
            json!((jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string());
        assert_eq!(error(v).error_code(), Some("6130"), "needs a receipt");
    }
}
