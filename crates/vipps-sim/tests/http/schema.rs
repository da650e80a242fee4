//! The simulator's responses checked against the official OpenAPI schemas
//! (`../shared/vipps-openapi/`), so that a client that works here parses what Vipps sends.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::{CustomerScript, PaymentBehavior};

use crate::common::{Env, MSISDN, nok, parts, payment_body};

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
