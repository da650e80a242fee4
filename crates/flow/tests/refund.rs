//! The refund rule with plain values: every refusal, the order they are checked in, repeats, and
//! the idempotency key.

use flow::refund::{
    Decision, EarlierRefund, InvalidRefundId, JournaledPayment, MAX_REFUND_ID_LEN, Refund,
    RefundError, RefundId, RefundLimits, RefundRequest, decide,
};
use flow::{Currency, JournalState, Money};

const REFERENCE: &str = "lane1-3f9a2c1d-2";
const LANE: &str = "lane1";
const EPAYMENT: RefundLimits = RefundLimits {
    max_key_len: 50,
    min_amount: 1,
};
const ECOM: RefundLimits = RefundLimits {
    max_key_len: 40,
    min_amount: 100,
};

fn nok(minor: i64) -> Money {
    Money::new(Currency::Nok, minor)
}

fn id(s: &str) -> RefundId {
    RefundId::new(s).expect("a valid refund id")
}

/// A NOK 499.00 payment of `LANE` in `state`.
fn payment(state: JournalState) -> JournaledPayment {
    JournaledPayment {
        reference: REFERENCE.to_owned(),
        amount: nok(49_900),
        lane: LANE.to_owned(),
        state,
    }
}

fn captured() -> JournaledPayment {
    payment(JournalState::Captured)
}

fn request(amount: Money, refund_id: &str) -> RefundRequest {
    RefundRequest {
        reference: REFERENCE.to_owned(),
        amount,
        refund_id: id(refund_id),
    }
}

fn earlier(refund_id: &str, minor: i64) -> EarlierRefund {
    EarlierRefund {
        key: format!("{REFERENCE}-refund-{refund_id}"),
        amount: nok(minor),
    }
}

fn refund(minor: i64, refund_id: &str) -> Refund {
    Refund {
        reference: REFERENCE.to_owned(),
        refund_id: id(refund_id),
        amount: nok(minor),
        idempotency_key: format!("{REFERENCE}-refund-{refund_id}"),
    }
}

#[test]
fn refund_ids_are_one_to_eight_letters_and_digits() {
    for good in ["1", "r1", "A", "abcDEF12", "00000000"] {
        assert_eq!(id(good).as_str(), good);
        assert_eq!(id(good).to_string(), good);
    }
    for bad in [
        "",
        "abcdefghi",
        "r-1",
        "r_1",
        "r 1",
        "r.1",
        "ø",
        "ab\u{0}",
        "١٢",
    ] {
        assert_eq!(
            RefundId::new(bad),
            Err(InvalidRefundId(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert_eq!(MAX_REFUND_ID_LEN, 8);
    let message = RefundId::new("r-1").expect_err("invalid").to_string();
    assert!(
        message.contains("1 to 8") && message.contains("\"r-1\""),
        "{message}"
    );
}

#[test]
fn the_key_is_the_reference_and_the_refund_id_and_reads_back() {
    let key = id("r1").key(REFERENCE);
    assert_eq!(key, "lane1-3f9a2c1d-2-refund-r1");
    assert_eq!(RefundId::from_key(REFERENCE, &key), Some(id("r1")));
    // Another payment's refund, a capture's key, a malformed id: not a refund of this payment.
    for other in [
        "lane1-3f9a2c1d-3-refund-r1",
        "lane1-3f9a2c1d-2-capture",
        "lane1-3f9a2c1d-2-refund-",
        "lane1-3f9a2c1d-2-refund-r-1",
        "lane1-3f9a2c1d-2-refund-abcdefghi",
        "x-lane1-3f9a2c1d-2-refund-r1",
    ] {
        assert_eq!(RefundId::from_key(REFERENCE, other), None, "{other}");
    }
    // A reference that is a prefix of another does not claim the other's refunds.
    assert_eq!(RefundId::from_key("lane1-3f9a2c1d-", &key), None);
}

#[test]
fn a_refund_within_what_was_captured_is_queued() {
    let cases: &[(&[EarlierRefund], i64)] = &[
        (&[], 1),
        (&[], 2_500),
        (&[], 49_900),
        (&[earlier("a", 2_500)], 47_400),
        (&[earlier("a", 2_500), earlier("b", 40_000)], 7_400),
        (&[earlier("a", 49_899)], 1),
    ];
    for (before, minor) in cases {
        assert_eq!(
            decide(
                &request(nok(*minor), "new"),
                Some(&captured()),
                LANE,
                before,
                EPAYMENT
            ),
            Ok(Decision::New(refund(*minor, "new"))),
            "{minor} after {before:?}"
        );
    }
}

#[test]
fn each_refusal_in_its_turn() {
    let other_lane = JournaledPayment {
        lane: "lane2".to_owned(),
        ..captured()
    };
    let other_reference = JournaledPayment {
        reference: "lane1-3f9a2c1d-9".to_owned(),
        ..captured()
    };
    let long = JournaledPayment {
        reference: "r".repeat(32),
        ..captured()
    };
    let eur = Money::new(Currency::Eur, 2_500);
    let two_refunds = [earlier("a", 40_000), earlier("b", 9_000)];

    type Case = (
        &'static str,
        Option<JournaledPayment>,
        Vec<EarlierRefund>,
        RefundRequest,
        RefundLimits,
        RefundError,
    );
    let not_found = RefundError::NotFound {
        reference: REFERENCE.to_owned(),
        lane: LANE.to_owned(),
    };
    let cases: Vec<Case> = vec![
        (
            "not journaled",
            None,
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            not_found.clone(),
        ),
        (
            "another lane's payment",
            Some(other_lane),
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            not_found.clone(),
        ),
        (
            "a row of another payment",
            Some(other_reference),
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            not_found,
        ),
        (
            "authorized, capture still queued",
            Some(payment(JournalState::Authorized)),
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            RefundError::NotCaptured {
                reference: REFERENCE.to_owned(),
                state: JournalState::Authorized,
            },
        ),
        (
            "pending",
            Some(payment(JournalState::Pending)),
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            RefundError::NotCaptured {
                reference: REFERENCE.to_owned(),
                state: JournalState::Pending,
            },
        ),
        (
            "failed",
            Some(payment(JournalState::Failed)),
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            RefundError::NotCaptured {
                reference: REFERENCE.to_owned(),
                state: JournalState::Failed,
            },
        ),
        (
            "cancelled",
            Some(payment(JournalState::Cancelled)),
            vec![],
            request(nok(100), "r1"),
            EPAYMENT,
            RefundError::NotCaptured {
                reference: REFERENCE.to_owned(),
                state: JournalState::Cancelled,
            },
        ),
        (
            "another currency",
            Some(captured()),
            vec![],
            request(eur, "r1"),
            EPAYMENT,
            RefundError::WrongCurrency {
                reference: REFERENCE.to_owned(),
                payment: nok(49_900),
                amount: eur,
            },
        ),
        (
            "zero",
            Some(captured()),
            vec![],
            request(nok(0), "r1"),
            EPAYMENT,
            RefundError::NotPositive { amount: nok(0) },
        ),
        (
            "negative",
            Some(captured()),
            vec![],
            request(nok(-2_500), "r1"),
            EPAYMENT,
            RefundError::NotPositive {
                amount: nok(-2_500),
            },
        ),
        (
            "below eCom's minimum",
            Some(captured()),
            vec![],
            request(nok(99), "r1"),
            ECOM,
            RefundError::BelowMinimum {
                amount: nok(99),
                minimum: nok(100),
            },
        ),
        (
            "more than captured",
            Some(captured()),
            vec![],
            request(nok(49_901), "r1"),
            EPAYMENT,
            RefundError::ExceedsCaptured {
                reference: REFERENCE.to_owned(),
                amount: nok(49_901),
                captured: nok(49_900),
                refundable: nok(49_900),
            },
        ),
        (
            "more than what earlier refunds left",
            Some(captured()),
            two_refunds.to_vec(),
            request(nok(901), "c"),
            EPAYMENT,
            RefundError::ExceedsCaptured {
                reference: REFERENCE.to_owned(),
                amount: nok(901),
                captured: nok(49_900),
                refundable: nok(900),
            },
        ),
        (
            "anything after a full refund",
            Some(captured()),
            vec![earlier("all", 49_900)],
            request(nok(1), "more"),
            EPAYMENT,
            RefundError::ExceedsCaptured {
                reference: REFERENCE.to_owned(),
                amount: nok(1),
                captured: nok(49_900),
                refundable: nok(0),
            },
        ),
        (
            "a refund id used for another amount",
            Some(captured()),
            two_refunds.to_vec(),
            request(nok(2_500), "a"),
            EPAYMENT,
            RefundError::RefundIdReused {
                reference: REFERENCE.to_owned(),
                refund_id: id("a"),
                earlier: nok(40_000),
                amount: nok(2_500),
            },
        ),
        (
            // 32 + 8 + 8 = 48: fits ePayment's 50, not eCom's 40.
            "a key longer than eCom takes",
            Some(long.clone()),
            vec![],
            RefundRequest {
                reference: long.reference.clone(),
                amount: nok(2_500),
                refund_id: id("abcdefgh"),
            },
            ECOM,
            RefundError::KeyTooLong {
                key: format!("{}-refund-abcdefgh", "r".repeat(32)),
                max: 40,
            },
        ),
    ];
    for (what, payment, before, request, limits, expected) in cases {
        assert_eq!(
            decide(&request, payment.as_ref(), LANE, &before, limits),
            Err(expected),
            "{what}"
        );
    }
    // The same long key is fine for ePayment.
    let ok = decide(
        &RefundRequest {
            reference: long.reference.clone(),
            amount: nok(2_500),
            refund_id: id("abcdefgh"),
        },
        Some(&long),
        LANE,
        &[],
        EPAYMENT,
    );
    assert!(matches!(ok, Ok(Decision::New(_))), "{ok:?}");
}

#[test]
fn the_same_refund_again_is_a_repeat_whatever_happened_since() {
    let before = [earlier("a", 2_500), earlier("b", 47_400)];
    // Fully refunded since: the repeat of either is still answered, and nothing is queued.
    for (refund_id, minor) in [("a", 2_500), ("b", 47_400)] {
        assert_eq!(
            decide(
                &request(nok(minor), refund_id),
                Some(&captured()),
                LANE,
                &before,
                EPAYMENT
            ),
            Ok(Decision::Repeat(refund(minor, refund_id))),
            "{refund_id}"
        );
    }
    // A repeat is recognised by its key, so it is answered before the payment's state is looked
    // at; but never for another lane's payment.
    let decision = decide(
        &request(nok(2_500), "a"),
        Some(&captured()),
        LANE,
        &before,
        EPAYMENT,
    )
    .expect("a repeat");
    assert_eq!(decision.refund(), &refund(2_500, "a"));
    assert!(matches!(
        decide(
            &request(nok(2_500), "a"),
            Some(&captured()),
            "lane2",
            &before,
            EPAYMENT
        ),
        Err(RefundError::NotFound { .. })
    ));
}

#[test]
fn refusals_read_well() {
    let cases = [
        (
            RefundError::NotFound {
                reference: REFERENCE.to_owned(),
                lane: LANE.to_owned(),
            },
            "no payment lane1-3f9a2c1d-2 was taken at lane lane1",
        ),
        (
            RefundError::NotCaptured {
                reference: REFERENCE.to_owned(),
                state: JournalState::Authorized,
            },
            "payment lane1-3f9a2c1d-2 is authorized, not captured: only a captured payment can be refunded",
        ),
        (
            RefundError::ExceedsCaptured {
                reference: REFERENCE.to_owned(),
                amount: nok(901),
                captured: nok(49_900),
                refundable: nok(900),
            },
            "refunding 9.01 NOK exceeds what is left of payment lane1-3f9a2c1d-2: 9.00 NOK of the 499.00 NOK captured",
        ),
        (
            RefundError::RefundIdReused {
                reference: REFERENCE.to_owned(),
                refund_id: id("a"),
                earlier: nok(40_000),
                amount: nok(2_500),
            },
            "refund a of payment lane1-3f9a2c1d-2 was for 400.00 NOK, not 25.00 NOK; a new refund needs a new refund id",
        ),
        (
            RefundError::KeyTooLong {
                key: "k".repeat(41),
                max: 40,
            },
            "the refund's key kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk is 41 characters; the payment API takes at most 40: use a shorter refund id",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
