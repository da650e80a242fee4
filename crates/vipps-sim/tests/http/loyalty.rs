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
            "communicationPreferences": {
                "acceptsEmail": true,
                "acceptsSms": false,
                "acceptsPostal": false,
            },
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

/// An event of `action` with only the ids every payload has, plus one field of its own.
fn minimal(event_id: &str, action: &str) -> Value {
    json!({
        "eventId": event_id,
        "timestamp": "2024-05-01T12:00:00Z",
        "action": action,
        "payload": { "contactId": "member-1", "phoneNumber": "+4712345678", "extra": [1, 2] },
    })
}

#[tokio::test]
async fn all_eleven_actions_arrive_in_order_with_duplicates_per_event_id() {
    let env = Env::start().await;
    let actions = [
        "benefits.member.registered",
        "benefits.member.updated",
        "benefits.member.deleted",
        "benefits.coupon.updated",
        "benefits.coupon.deleted",
        "benefits.coupons.synced",
        "benefits.stampCard.updated",
        "benefits.stampCard.deleted",
        "benefits.stampCards.synced",
        "benefits.bonusCheck.created",
        "benefits.bonusCheck.deleted",
    ];
    for (i, action) in actions.iter().enumerate() {
        let mut event = minimal(&format!("evt-{i:02}"), action);
        if action.starts_with("benefits.member.") && *action != "benefits.member.deleted" {
            event["payload"] = registered("x")["payload"].clone();
        }
        let (status, body) = publish(&env, &event).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
    }
    // evt-03 twice more, evt-07 once more.
    for id in ["evt-03", "evt-07", "evt-03"] {
        let (status, _) = publish(&env, &minimal(id, "benefits.coupon.updated")).await;
        assert_eq!(status, StatusCode::OK);
    }

    let log = env.sim.loyalty_log();
    let order: Vec<&str> = log.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(order, actions, "arrival order, first copy per eventId");
    let duplicates: Vec<(&str, u32)> = log
        .iter()
        .filter(|r| r.duplicates > 0)
        .map(|r| (r.event_id.as_str(), r.duplicates))
        .collect();
    assert_eq!(duplicates, [("evt-03", 2), ("evt-07", 1)]);
    assert_eq!(env.sim.loyalty_duplicates(), 3);
    assert_eq!(
        log[7].event["action"], "benefits.stampCard.deleted",
        "the first copy is kept, not the duplicate"
    );

    let over_http: Value = env
        .http
        .get(env.url("/_sim/loyalty-events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["duplicates"], 3);
    assert_eq!(
        over_http["log"][3],
        json!({ "eventId": "evt-03", "action": "benefits.coupon.updated", "duplicates": 2 })
    );
    assert_eq!(over_http["events"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn member_events_must_carry_the_member_state() {
    let env = Env::start().await;
    for (field, value) in [
        ("joinedOn", json!("yesterday")),
        ("bonusPoints", json!(10)),
        ("communicationPreferences", json!({ "acceptsEmail": true })),
    ] {
        let mut event = registered("evt-member");
        event["payload"][field] = value;
        let (status, problem) = publish(&env, &event).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}");
        let named = problem["extraDetails"].as_array().unwrap().iter().any(|d| {
            d["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("payload.{field}"))
        });
        assert!(named, "{field}: {problem}");
    }
    let mut deleted = registered("evt-deleted");
    deleted["action"] = json!("benefits.member.deleted");
    deleted["payload"] = json!({ "contactId": "member-1", "phoneNumber": "+4712345678" });
    let (status, _) = publish(&env, &deleted).await;
    assert_eq!(status, StatusCode::OK, "a deletion carries only the ids");
    assert_eq!(env.sim.loyalty_events().len(), 1);
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
