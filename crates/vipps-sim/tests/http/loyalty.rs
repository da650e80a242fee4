//! `POST /loyalty/v1/events`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Env, names, parts};

const EVENTS: &str = "/loyalty/v1/events";

fn registered(event_id: &str) -> Value {
    json!({
        "eventId": event_id,
        "timestamp": "2024-05-01T12:00:00+02:00",
        "action": "benefits.member.registered",
        "payload": {
            "contactId": "member-1",
            "phoneNumber": "+4712345678",
            "joinedOn": "2024-05-01T12:00:00Z",
            "bonusPoints": { "balance": 0 },
        },
    })
}

async fn publish(env: &Env, event: &Value) -> (StatusCode, Value) {
    parts(
        env.merchant(Method::POST, EVENTS)
            .json(event)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn events_are_accepted_and_deduplicated_by_event_id() {
    let env = Env::start().await;
    let event = registered("evt-1");
    let (status, body) = publish(&env, &event).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "accepted", "eventId": "evt-1" }));

    let mut resent = event.clone();
    resent["payload"]["bonusPoints"]["balance"] = json!(99);
    let (status, body) = publish(&env, &resent).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a repeated eventId is accepted again"
    );
    assert_eq!(body["eventId"], "evt-1");
    let (status, _) = publish(&env, &registered("evt-2")).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        env.sim.loyalty_events(),
        [event, registered("evt-2")],
        "first copy kept"
    );
    assert_eq!(env.sim.loyalty_duplicates(), 1);
}

#[tokio::test]
async fn invalid_envelopes_are_rejected() {
    let env = Env::start().await;
    let cases = [
        (
            "/payload/phoneNumber",
            json!("4712345678"),
            "payload.phoneNumber",
        ),
        (
            "/payload/phoneNumber",
            json!("+47 12345678"),
            "payload.phoneNumber",
        ),
        ("/action", json!("benefits.points.added"), "action"),
        ("/timestamp", json!("2024-05-01T12:00:00"), "timestamp"),
        ("/eventId", json!(null), "eventId"),
        ("/payload", json!("member-1"), "payload"),
    ];
    for (pointer, value, field) in cases {
        let mut event = registered("evt-bad");
        if let Some(slot) = event.pointer_mut(pointer) {
            *slot = value.clone();
        }
        let (status, problem) = publish(&env, &event).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pointer} = {value}");
        assert!(names(&problem, field), "{field}: {problem}");
    }
    assert!(env.sim.loyalty_events().is_empty());
}

#[tokio::test]
async fn all_four_system_headers_are_required() {
    let env = Env::start().await;
    let config = env.sim.config();
    let request = env
        .http
        .post(env.url(EVENTS))
        .bearer_auth(&env.token)
        .header("Ocp-Apim-Subscription-Key", &config.subscription_key)
        .header("Merchant-Serial-Number", &config.merchant_serial_number)
        .header("Vipps-System-Name", "loyaltyd")
        .header("Vipps-System-Version", "0.1.0")
        .header("Vipps-System-Plugin-Name", "loyaltyd")
        .json(&registered("evt-3"));
    let (status, problem) = parts(request.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(names(&problem, "Vipps-System-Plugin-Version"), "{problem}");
    assert!(env.sim.loyalty_events().is_empty());
}
