//! The simulator's responses checked against the official OpenAPI schemas
//! (`../shared/vipps-openapi/`), so that a client that works here parses what Vipps sends.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::{CustomerScript, PaymentBehavior};

use crate::common::{
    Env, MOBILE, MSISDN, ecom_action_body, ecom_cancel_body, ecom_initiate_body, nok, parts,
    payment_body,
};

fn openapi(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vipps-openapi")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{} is needed beside the checkout: {err}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap()
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema: `null` joins the allowed types.
fn nullable_to_json_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(ty)) = map.get("type").cloned()
            {
                map.insert("type".to_owned(), json!([ty, "null"]));
            }
            map.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// Validates `instance` against `#/components/schemas/{name}` of an OpenAPI document.
struct Schemas {
    components: Value,
}

impl Schemas {
    fn load(file: &str) -> Self {
        let mut doc = openapi(file);
        let mut components = doc["components"]["schemas"].take();
        nullable_to_json_schema(&mut components);
        Self { components }
    }

    fn errors(&self, name: &str, instance: &Value) -> Vec<String> {
        let root = json!({
            "$ref": format!("#/components/schemas/{name}"),
            "components": { "schemas": self.components },
        });
        let validator = jsonschema::validator_for(&root).unwrap();
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn check(&self, name: &str, instance: &Value) {
        let errors = self.errors(name, instance);
        assert!(errors.is_empty(), "{name}: {errors:?}\n{instance}");
    }
}

#[tokio::test]
async fn epayment_responses_match_the_spec() {
    let mut schemas = Schemas::load("epayment-v1.yaml");
    // The spec requires `paymentAction` in PaymentEvent but defines the property as `name`;
    // Vipps sends `name`, so the stray requirement is dropped here.
    if let Some(required) = schemas.components["PaymentEvent"]["required"].as_array_mut() {
        required.retain(|r| r != "paymentAction");
    }
    // Only its own references are resolvable offline.
    if let Some(map) = schemas.components.as_object_mut() {
        map.remove("CreatePaymentRequest");
    }

    let env = Env::start().await;
    env.sim.set_customer(
        MSISDN,
        CustomerScript {
            payment: PaymentBehavior::Approve,
            payment_delay: Duration::from_millis(100),
            ..CustomerScript::default()
        },
    );
    let mut body = payment_body("order-schema-1", 10_000, json!({ "phoneNumber": MSISDN }));
    body["metadata"] = json!({ "till": "3" });
    body["profile"] = json!({ "scope": "name" });
    let (status, created) = parts(
        env.merchant(Method::POST, "/epayment/v1/payments")
            .header("Idempotency-Key", "schema-1")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    schemas.check("CreatePaymentResponse", &created);

    schemas.check(
        "GetPaymentResponse",
        &env.get_payment("order-schema-1").await,
    );
    let authorized = env.final_state("order-schema-1").await;
    schemas.check("GetPaymentResponse", &authorized);
    let mut broken = authorized.clone();
    broken["state"] = json!("PAID");
    assert!(
        !schemas.errors("GetPaymentResponse", &broken).is_empty(),
        "the schema check can fail"
    );
    assert!(
        authorized["profile"]["sub"].is_string(),
        "profile.scope asked for"
    );

    let (status, modification) = parts(
        env.modify("order-schema-1", "capture", "c1", Some(nok(5_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    schemas.check("ModificationResponse", &modification);

    let events: Value = env
        .merchant(Method::GET, "/epayment/v1/payments/order-schema-1/events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for event in events.as_array().unwrap() {
        schemas.check("PaymentEvent", event);
    }

    let (status, problem) = parts(
        env.modify("order-schema-1", "capture", "c2", Some(nok(9_000)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    schemas.check("Problem", &problem);
}

#[tokio::test]
async fn qr_check_in_and_login_responses_match_the_spec() {
    let env = Env::start().await;
    let qr = Schemas::load("qr.yaml");
    env.sim.map_qr_token("https://qr.vipps.no/p/schema", MSISDN);
    for code in [
        format!("https://qr.vipps.no/28/2/01/031/{MSISDN}?v=1"),
        "https://qr.vipps.no/p/schema".to_owned(),
    ] {
        let (status, body) = parts(
            env.merchant(Method::POST, "/qr/v1/exchange")
                .json(&json!({ "qrCode": code }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        qr.check("QrExchangeResponse", &body);
    }
    let (status, body) = parts(
        env.merchant(Method::POST, "/qr/v1/exchange")
            .json(&json!({ "qrCode": "nonsense" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    qr.check("QrExchangeErrorResponse", &body);

    let check_in = Schemas::load("check-in.yaml");
    let (status, body) = parts(
        env.merchant(Method::POST, "/point-of-sale/v1/loyalty-check-in")
            .json(&json!({ "phoneNumber": "4512345678", "isMember": true }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    check_in.check("ErrorResponse", &body);

    let login = Schemas::load("login.yaml");
    let discovery: Value = env
        .http
        .get(env.url("/access-management-1.0/access/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login.check("WellKnown", &discovery);
    let jwks: Value = env
        .http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login.check("JSONWebKeySet", &jwks);
}

/// Applies `(JSON pointer, value)` to a copy of `body`; `None` removes the field.
fn mutated(body: &Value, pointer: &str, value: Option<&Value>) -> Value {
    let mut body = body.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        &mut body
    } else {
        body.pointer_mut(parent).unwrap()
    };
    let object = parent.as_object_mut().unwrap();
    match value {
        Some(value) => {
            object.insert(key.to_owned(), value.clone());
        }
        None => {
            object.remove(key);
        }
    }
    body
}

#[tokio::test]
async fn ecom_responses_match_the_spec() {
    let schemas = Schemas::load("ecom-v2.yaml");
    let env = Env::start().await;
    env.sim.set_customer(
        MSISDN,
        CustomerScript {
            payment: PaymentBehavior::Approve,
            payment_delay: Duration::from_millis(100),
            ..CustomerScript::default()
        },
    );
    let (status, initiated) = env
        .ecom_initiate(&ecom_initiate_body("ecom-schema-1", 10_000, MOBILE))
        .await;
    assert_eq!(status, StatusCode::OK);
    schemas.check("PaymentInitiationResponse", &initiated);
    let (_, details) = env.ecom_details("ecom-schema-1").await;
    schemas.check("TransactionDetails", &details);
    let reserved = env.ecom_settled("ecom-schema-1").await;
    schemas.check("TransactionDetails", &reserved);
    let mut broken = reserved.clone();
    broken["transactionLogHistory"][0]["operation"] = json!("PAID");
    assert!(
        !schemas.errors("TransactionDetails", &broken).is_empty(),
        "the schema check can fail"
    );

    let (status, captured) = env
        .ecom_modify(
            "ecom-schema-1",
            "capture",
            Some("c-1"),
            &ecom_action_body(Some(6_000)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    schemas.check("TransactionResponse", &captured);
    let (status, refunded) = env
        .ecom_modify(
            "ecom-schema-1",
            "refund",
            Some("r-1"),
            &ecom_action_body(Some(1_000)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    schemas.check("RefundTransactionResponse", &refunded);
    let (status, cancelled) = env
        .ecom_modify("ecom-schema-1", "cancel", None, &ecom_cancel_body(true))
        .await;
    assert_eq!(status, StatusCode::OK);
    schemas.check("CancelTransactionResponse", &cancelled);
    let (_, details) = env.ecom_details("ecom-schema-1").await;
    schemas.check("TransactionDetails", &details);

    let mut errors = vec![
        env.ecom_details("no-such-order").await,
        env.ecom_initiate(&json!({})).await,
        env.ecom_initiate(&ecom_initiate_body("ecom-schema-1", 10_000, MOBILE))
            .await,
        env.ecom_modify(
            "ecom-schema-1",
            "refund",
            Some("r-2"),
            &ecom_action_body(Some(9_000)),
        )
        .await,
    ];
    env.sim
        .set_faults(vec!["ecom.details=status:500".parse().unwrap()]);
    errors.push(env.ecom_details("ecom-schema-1").await);
    for (status, body) in errors {
        assert!(status.is_client_error() || status.is_server_error());
        schemas.check("ErrorArray", &body);
    }
}

/// Sends initiate bodies that the spec accepts and bodies it refuses, and checks that the
/// simulator agrees with the spec on every one (rules the spec states only in prose, such as
/// HTTPS URLs, are tested elsewhere and kept satisfied here).
#[tokio::test]
async fn ecom_initiate_is_refused_exactly_where_the_spec_refuses_it() {
    let schemas = Schemas::load("ecom-v2.yaml");
    let env = Env::start().await;
    let long = |n: usize| json!("x".repeat(n));
    let cases: Vec<(&str, Option<Value>)> = vec![
        // Accepted by the spec.
        ("/transaction/scope", Some(json!("name phoneNumber"))),
        ("/transaction/useExplicitCheckoutFlow", Some(json!(false))),
        ("/transaction/amount", Some(json!(100))),
        ("/transaction/transactionText", Some(long(100))),
        ("/merchantInfo/isApp", Some(json!(false))),
        ("/merchantInfo/authToken", Some(json!("callback-secret"))),
        (
            "/merchantInfo/paymentType",
            Some(json!("eComm Regular Payment")),
        ),
        ("/somethingElse", Some(json!({ "any": 1 }))),
        (
            "/transaction/additionalData",
            Some(json!({
                "passengerName": "NORDMANN/KARI MRS", "airlineCode": "074",
                "airlineDesignatorCode": "KL", "agencyInvoiceNumber": "12345",
            })),
        ),
        (
            "/merchantInfo/staticShippingDetails",
            Some(json!([{
                "isDefault": "Y", "shippingCost": 49.0, "shippingMethod": "Posten",
                "shippingMethodId": "posten",
            }])),
        ),
        // Refused by the spec.
        ("/customerInfo", None),
        ("/customerInfo", Some(json!(MOBILE))),
        ("/customerInfo/mobileNumber", Some(json!("+4712345678"))),
        ("/customerInfo/mobileNumber", Some(json!(12_345_678))),
        ("/merchantInfo", None),
        ("/merchantInfo/callbackPrefix", None),
        (
            "/merchantInfo/callbackPrefix",
            Some(json!(format!("https://{}", "a".repeat(250)))),
        ),
        ("/merchantInfo/fallBack", None),
        ("/merchantInfo/merchantSerialNumber", None),
        ("/merchantInfo/merchantSerialNumber", Some(json!(123_456))),
        ("/merchantInfo/merchantSerialNumber", Some(json!("1234567"))),
        ("/merchantInfo/merchantSerialNumber", Some(json!("12a456"))),
        (
            "/merchantInfo/paymentType",
            Some(json!("eComm Fancy Payment")),
        ),
        ("/merchantInfo/isApp", Some(json!("no"))),
        (
            "/merchantInfo/staticShippingDetails",
            Some(json!([{ "isDefault": "maybe", "shippingCost": 49.0,
                          "shippingMethod": "Posten", "shippingMethodId": "posten" }])),
        ),
        ("/transaction", None),
        ("/transaction/amount", None),
        ("/transaction/amount", Some(json!(99))),
        ("/transaction/amount", Some(json!(100.5))),
        ("/transaction/amount", Some(json!("10000"))),
        ("/transaction/orderId", None),
        ("/transaction/orderId", Some(json!("order_1"))),
        ("/transaction/orderId", Some(long(51))),
        ("/transaction/orderId", Some(json!(""))),
        ("/transaction/transactionText", None),
        ("/transaction/transactionText", Some(long(101))),
        ("/transaction/skipLandingPage", Some(json!("true"))),
        ("/transaction/scope", Some(json!(5))),
        (
            "/transaction/additionalData",
            Some(json!({ "airlineCode": "07" })),
        ),
    ];
    let mut accepted_by_spec = 0;
    for (i, (pointer, value)) in cases.iter().enumerate() {
        let base = ecom_initiate_body(&format!("ecom-spec-{i}"), 10_000, MOBILE);
        let body = mutated(&base, pointer, value.as_ref());
        let spec_accepts = schemas.errors("InitiatePaymentCommand", &body).is_empty();
        let (status, answer) = env.ecom_initiate(&body).await;
        let sim_accepts = status == StatusCode::OK;
        assert_eq!(
            sim_accepts,
            spec_accepts,
            "{pointer} = {value:?}: the spec {} it, the simulator answered {status} {answer}",
            if spec_accepts { "accepts" } else { "refuses" },
        );
        if !sim_accepts {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{pointer}: {answer}");
            schemas.check("ErrorArray", &answer);
        }
        accepted_by_spec += usize::from(spec_accepts);
    }
    assert_eq!(accepted_by_spec, 10, "both kinds of case were tried");
}

/// The same for capture (`PaymentActionsRequest`) and cancel (`CancelPaymentActionRequest`).
#[tokio::test]
async fn ecom_capture_and_cancel_bodies_are_refused_exactly_where_the_spec_refuses_them() {
    let mut schemas = Schemas::load("ecom-v2.yaml");
    // The spec forgot to require them; its prose and every example have both.
    schemas.components["PaymentActionsRequest"]["required"] =
        json!(["merchantInfo", "transaction"]);
    let env = Env::start().await;
    let (status, _) = env
        .ecom_initiate(&ecom_initiate_body("ecom-spec-capture", 1_000_000, MOBILE))
        .await;
    assert_eq!(status, StatusCode::OK);
    env.ecom_settled("ecom-spec-capture").await;

    let capture = ecom_action_body(Some(100));
    let capture_cases: Vec<(&str, Option<Value>)> = vec![
        ("/transaction/amount", Some(json!(250))),
        ("/extra", Some(json!(true))),
        ("/merchantInfo", None),
        ("/merchantInfo/merchantSerialNumber", Some(json!(123_456))),
        ("/transaction", None),
        ("/transaction/transactionText", None),
        ("/transaction/transactionText", Some(json!("x".repeat(101)))),
        ("/transaction/amount", Some(json!(99))),
        ("/transaction/amount", Some(json!("100"))),
        // Last: no amount captures what is left.
        ("/transaction/amount", None),
    ];
    for (i, (pointer, value)) in capture_cases.iter().enumerate() {
        let body = mutated(&capture, pointer, value.as_ref());
        let spec_accepts = schemas.errors("PaymentActionsRequest", &body).is_empty();
        let (status, answer) = env
            .ecom_modify(
                "ecom-spec-capture",
                "capture",
                Some(&format!("c-{i}")),
                &body,
            )
            .await;
        assert_eq!(
            status == StatusCode::OK,
            spec_accepts,
            "capture {pointer} = {value:?}: {status} {answer}"
        );
    }
    assert_eq!(
        env.sim.ecom_payment("ecom-spec-capture").unwrap().captured,
        1_000_000
    );

    let cancel = ecom_cancel_body(false);
    let cancel_cases: Vec<(&str, Option<Value>)> = vec![
        ("/shouldReleaseRemainingFunds", None),
        ("/shouldReleaseRemainingFunds", Some(json!("yes"))),
        ("/merchantInfo", None),
        ("/transaction", None),
        ("/transaction/transactionText", Some(json!("x".repeat(101)))),
    ];
    env.sim.set_customer(
        MSISDN,
        CustomerScript {
            payment: PaymentBehavior::Ignore,
            ..CustomerScript::default()
        },
    );
    let (status, _) = env
        .ecom_initiate(&ecom_initiate_body("ecom-spec-cancel", 10_000, MOBILE))
        .await;
    assert_eq!(status, StatusCode::OK);
    for (pointer, value) in cancel_cases {
        let body = mutated(&cancel, pointer, value.as_ref());
        let spec_accepts = schemas
            .errors("CancelPaymentActionRequest", &body)
            .is_empty();
        let (status, answer) = env
            .ecom_modify("ecom-spec-cancel", "cancel", None, &body)
            .await;
        assert_eq!(
            status == StatusCode::OK,
            spec_accepts,
            "cancel {pointer} = {value:?}: {status} {answer}"
        );
    }
}
