//! The members directory.

use std::collections::HashSet;

use flow::{CommunicationPreferences, Member, Msisdn, Profile, UnixMillis};
use store::StoreError;

use crate::fresh;

fn msisdn(digits: &str) -> Msisdn {
    Msisdn::new(digits).expect("valid msisdn")
}

fn profile(sub: &str) -> Profile {
    Profile {
        sub: sub.to_owned(),
        name: Some("Kari Nordmann".to_owned()),
        email: Some("kari@example.no".to_owned()),
        preferences: CommunicationPreferences {
            email: true,
            sms: false,
            postal: true,
        },
    }
}

#[tokio::test]
async fn a_created_member_can_be_found_by_number() {
    let (_dir, _path, store) = fresh().await;
    let number = msisdn("4712345678");
    assert_eq!(store.find_member(&number).await.expect("find"), None);

    let member = store
        .create_member(&number, &profile("sub-1"), UnixMillis(1_700_000_000_000))
        .await
        .expect("create");
    assert!(member.contact_id.starts_with("M-"), "{}", member.contact_id);
    assert_eq!(member.contact_id.len(), 14, "{}", member.contact_id);
    assert_eq!(member.msisdn, number);
    assert_eq!(member.sub.as_deref(), Some("sub-1"));
    assert_eq!(member.name.as_deref(), Some("Kari Nordmann"));
    assert_eq!(member.email.as_deref(), Some("kari@example.no"));
    assert_eq!(member.joined_at, UnixMillis(1_700_000_000_000));
    assert_eq!(member.bonus_points, 0);
    assert!(member.preferences.email && member.preferences.postal && !member.preferences.sms);

    assert_eq!(
        store.find_member(&number).await.expect("find"),
        Some(member.clone())
    );
    assert_eq!(
        store
            .find_member(&msisdn("4787654321"))
            .await
            .expect("find"),
        None
    );
    assert_eq!(store.list_members().await.expect("list"), vec![member]);
}

#[tokio::test]
async fn enrolling_a_member_again_returns_the_member_unchanged() {
    let (_dir, _path, store) = fresh().await;
    let number = msisdn("4712345678");
    let first = store
        .create_member(&number, &profile("sub-1"), UnixMillis(100))
        .await
        .expect("create");
    let again = store
        .create_member(&number, &Profile::default(), UnixMillis(200))
        .await
        .expect("create again");
    assert_eq!(again, first);
    assert_eq!(store.list_members().await.expect("list").len(), 1);
}

#[tokio::test]
async fn contact_ids_are_unique_and_do_not_count_visibly() {
    let (_dir, _path, store) = fresh().await;
    let mut ids = HashSet::new();
    for i in 0..50 {
        let member = store
            .create_member(
                &msisdn(&format!("47{:08}", 40_000_000 + i)),
                &Profile::default(),
                UnixMillis(i),
            )
            .await
            .expect("create");
        assert_eq!(member.sub, None, "an empty Login subject is no subject");
        assert!(
            ids.insert(member.contact_id.clone()),
            "{}",
            member.contact_id
        );
    }
    let mut sorted: Vec<_> = ids.iter().cloned().collect();
    sorted.sort();
    let members = store.list_members().await.expect("list");
    let in_join_order: Vec<_> = members.iter().map(|m| m.contact_id.clone()).collect();
    assert_ne!(
        in_join_order, sorted,
        "ids sort in join order: they reveal the count"
    );
}

#[tokio::test]
async fn a_hand_made_id_that_a_generated_one_would_repeat_is_skipped() {
    let (_dir, path, store) = fresh().await;
    // Learn what the first generated id is, then start over with a copy of that database whose
    // first id is already taken by hand.
    let pristine = path.with_extension("pristine");
    store.close().await;
    std::fs::copy(&path, &pristine).expect("copy");
    let store = store::Store::open(&path).await.expect("reopen");
    let generated = store
        .create_member(&msisdn("4711111111"), &Profile::default(), UnixMillis(1))
        .await
        .expect("create");
    store.close().await;

    let store = store::Store::open(&pristine).await.expect("open copy");
    let by_hand = Member {
        contact_id: generated.contact_id.clone(),
        msisdn: msisdn("4722222222"),
        sub: None,
        name: None,
        email: None,
        joined_at: UnixMillis(0),
        bonus_points: 7,
        preferences: CommunicationPreferences::default(),
    };
    store.upsert_member(&by_hand).await.expect("upsert");
    let created = store
        .create_member(&msisdn("4711111111"), &Profile::default(), UnixMillis(1))
        .await
        .expect("create");
    assert_ne!(created.contact_id, generated.contact_id);
    assert_eq!(store.list_members().await.expect("list").len(), 2);
}

#[tokio::test]
async fn upsert_inserts_then_replaces_by_contact_id() {
    let (_dir, _path, store) = fresh().await;
    let mut member = Member {
        contact_id: "DEMO-1".to_owned(),
        msisdn: msisdn("4712345678"),
        sub: None,
        name: Some("Ola".to_owned()),
        email: None,
        joined_at: UnixMillis(1),
        bonus_points: 100,
        preferences: CommunicationPreferences::default(),
    };
    store.upsert_member(&member).await.expect("insert");
    member.bonus_points = 250;
    member.msisdn = msisdn("4799999999");
    member.preferences.sms = true;
    store.upsert_member(&member).await.expect("replace");

    assert_eq!(
        store.list_members().await.expect("list"),
        vec![member.clone()]
    );
    assert_eq!(
        store
            .find_member(&msisdn("4712345678"))
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        store
            .find_member(&msisdn("4799999999"))
            .await
            .expect("find"),
        Some(member)
    );
}

#[tokio::test]
async fn upsert_refuses_a_number_that_belongs_to_another_member() {
    let (_dir, _path, store) = fresh().await;
    let number = msisdn("4712345678");
    let owner = store
        .create_member(&number, &Profile::default(), UnixMillis(1))
        .await
        .expect("create");
    let intruder = Member {
        contact_id: "ADMIN-7".to_owned(),
        ..owner.clone()
    };
    let err = store
        .upsert_member(&intruder)
        .await
        .expect_err("number taken");
    let StoreError::Conflict(message) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert!(message.contains(&owner.contact_id), "{message}");
    assert!(
        !message.contains("4712345678"),
        "the full number leaked: {message}"
    );
    assert_eq!(store.list_members().await.expect("list"), vec![owner]);
}
