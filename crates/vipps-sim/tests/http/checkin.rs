//! `POST /point-of-sale/v1/loyalty-check-in`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use vipps_sim::CheckInRecord;

use crate::common::{Env, MSISDN, parts};

async fn check_in(env: &Env, body: Value) -> (StatusCode, Value) {
    parts(
        env.merchant(Method::POST, "/point-of-sale/v1/loyalty-check-in")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_check_in_is_recorded_and_answered_with_a_guid_string() {
    let env = Env::start().await;
    let (status, body) = check_in(&env, json!({ "phoneNumber": MSISDN, "isMember": true })).await;
    assert_eq!(status, StatusCode::OK);
    let guid = body.as_str().expect("a JSON string");
    assert!(uuid_like(guid), "{guid}");
    let (status, _) = check_in(
        &env,
        json!({ "phoneNumber": "4798765432", "isMember": false }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        env.sim.check_ins(),
        [
            CheckInRecord {
                phone_number: MSISDN.to_owned(),
                is_member: true
            },
            CheckInRecord {
                phone_number: "4798765432".to_owned(),
                is_member: false
            },
        ]
    );
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn only_norwegian_msisdns_and_a_boolean_are_accepted() {
    let env = Env::start().await;
    for phone in [
        "4512345678",
        "12345678",
        "+4712345678",
        "47123456789",
        "47 1234567",
    ] {
        let (status, body) =
            check_in(&env, json!({ "phoneNumber": phone, "isMember": true })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{phone}");
        assert_eq!(body["invalidParams"][0]["name"], "phoneNumber", "{body}");
        for field in ["type", "title", "detail", "instance"] {
            assert!(body[field].is_string(), "{field} in {body}");
        }
    }
    let (status, body) = check_in(&env, json!({ "phoneNumber": MSISDN })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["invalidParams"][0]["name"], "isMember");
    let (status, body) = check_in(&env, json!({ "phoneNumber": null, "isMember": "yes" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["invalidParams"].as_array().map(Vec::len), Some(2));
    assert!(env.sim.check_ins().is_empty());
}
