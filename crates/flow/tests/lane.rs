//! Scenario tests for the lane, in virtual time: no runtime, no sleeps, no IO. Each test plays the
//! driver's part: it feeds inputs, reads the outputs, and answers the calls as Vipps or the members
//! directory would.

use std::time::{Duration, Instant};

use flow::*;

const QR_TOKEN: &str = "https://qr.vipps.no/p/Xk7qYzW2rT9bQmLp";
const QR_CLEAR: &str = "https://qr.vipps.no/28/2/01/031/4712345678?v=1";

fn msisdn(s: &str) -> Msisdn {
    Msisdn::new(s).expect("valid msisdn")
}

fn nok(minor: i64) -> Money {
    Money::new(Currency::Nok, minor)
}

fn member(contact_id: &str) -> Member {
    Member {
        contact_id: contact_id.to_owned(),
        msisdn: msisdn("4712345678"),
        sub: None,
        name: Some("Kari".to_owned()),
        email: None,
        joined_at: UnixMillis(1_700_000_000_000),
        bonus_points: 0,
        preferences: CommunicationPreferences::default(),
    }
}

/// Plays the driver: owns virtual time and collects outputs.
struct Till {
    lane: Lane,
    now: Instant,
    wall: UnixMillis,
    next_token: u64,
}

impl Till {
    fn new() -> Self {
        let mut config = LaneConfig::new("till-1");
        config.idle_timeout = Duration::from_secs(60);
        Self::with_config(config)
    }

    fn with_config(config: LaneConfig) -> Self {
        Self {
            lane: Lane::new(config, "boot42"),
            now: Instant::now(),
            wall: UnixMillis(1_800_000_000_000),
            next_token: 0,
        }
    }

    fn feed(&mut self, input: Input) -> Vec<Output> {
        self.lane.handle(self.now, self.wall, input);
        std::iter::from_fn(|| self.lane.poll()).collect()
    }

    /// Moves virtual time forward by `by`, ticking at every deadline on the way, like the daemon's
    /// event loop does. Returns everything the lane asked for meanwhile.
    fn advance(&mut self, by: Duration) -> Vec<Output> {
        let end = self.now + by;
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match self.lane.poll_timeout() {
                Some(deadline) if deadline <= end => {
                    let step = deadline.max(self.now);
                    self.wall.0 += (step - self.now).as_millis() as i64;
                    self.now = step;
                    out.extend(self.feed(Input::Tick));
                }
                _ => break,
            }
        }
        self.wall.0 += (end - self.now).as_millis() as i64;
        self.now = end;
        out
    }

    fn scan_qr(&mut self, raw: &str, clear_text: Option<&str>) -> Vec<Output> {
        self.feed(Input::Scan(Scan {
            scanner: "customer".to_owned(),
            role: ScannerRole::Customer,
            code: ScanCode::PersonalQr {
                raw: raw.to_owned(),
                clear_text: clear_text.map(msisdn),
            },
        }))
    }

    fn command(&mut self, command: Command) -> (Result<(), Rejection>, Vec<Output>) {
        self.next_token += 1;
        let token = self.next_token;
        let mut out = self.feed(Input::Command {
            origin: Origin::Register(token),
            command,
        });
        let reply = out
            .iter()
            .position(|o| matches!(o, Output::Reply { token: t, .. } if *t == token))
            .expect("every register command gets exactly one reply");
        let Output::Reply { result, .. } = out.remove(reply) else {
            unreachable!()
        };
        assert!(
            !out.iter().any(|o| matches!(o, Output::Reply { .. })),
            "one reply only"
        );
        (result, out)
    }

    fn ok(&mut self, command: Command) -> Vec<Output> {
        let (result, out) = self.command(command);
        result.expect("command accepted");
        out
    }

    fn basket(&mut self, minor: i64) {
        let out = self.ok(Command::Basket(Basket {
            total: nok(minor),
            lines: vec![],
        }));
        assert!(out.is_empty(), "a basket changes nothing else: {out:?}");
    }

    fn answer(&mut self, id: RequestId, result: Result<Response, Failure>) -> Vec<Output> {
        self.feed(Input::Response { id, result })
    }

    /// Scans a member's QR code and answers the exchange, lookup and check-in.
    fn identify_member(&mut self) {
        let out = self.scan_qr(QR_TOKEN, None);
        let exchange = call(&out, |r| matches!(r, Request::ExchangeQr { .. }));
        let out = self.answer(
            exchange,
            Ok(Response::QrExchanged {
                msisdn: msisdn("4712345678"),
            }),
        );
        let find = call(&out, |r| matches!(r, Request::FindMember { .. }));
        let out = self.answer(find, Ok(Response::Member(Some(member("M-1")))));
        let check_in = call(&out, |r| matches!(r, Request::CheckIn { .. }));
        let out = self.answer(check_in, Ok(Response::CheckedIn));
        assert_eq!(
            out,
            vec![Output::Notify(Notice::CheckIn(CheckInStatus::Sent))]
        );
    }

    /// Types a non-member's number and answers the lookup.
    fn identify_non_member(&mut self) {
        let out = self.ok(Command::Phone {
            number: "+47 123 45 678".to_owned(),
        });
        let find = call(&out, |r| matches!(r, Request::FindMember { .. }));
        let out = self.answer(find, Ok(Response::Member(None)));
        assert_eq!(
            notices(&out),
            vec![Notice::Customer(CustomerNotice::Identified {
                msisdn: msisdn("4712345678"),
                verified: true,
                membership: Membership::NotMember,
            })]
        );
    }

    /// Presses Enroll and answers that Vipps started the login with `auth_req_id` "a".
    fn enroll_started(&mut self, expires_in: Duration, interval: Duration) {
        let out = self.ok(Command::Enroll);
        let start = call(&out, |r| matches!(r, Request::StartLogin { .. }));
        let out = self.answer(
            start,
            Ok(Response::LoginStarted {
                auth_req_id: "a".to_owned(),
                expires_in,
                interval,
            }),
        );
        assert!(
            matches!(
                &notices(&out)[..],
                [Notice::Enrollment(EnrollmentStatus::Waiting { .. })]
            ),
            "{out:?}"
        );
    }

    /// Presses Pay and answers the create call; returns the reference.
    fn pay_created(&mut self) -> String {
        let out = self.ok(Command::Pay);
        let (id, request) = create_call(&out);
        let out = self.answer(id, Ok(Response::PaymentCreated));
        assert!(out.is_empty(), "{out:?}");
        request.reference
    }

    /// Waits for the next payment lookup and answers it.
    fn next_lookup(&mut self, result: Result<Response, Failure>) -> Vec<Output> {
        let out = self.advance(Duration::from_secs(1));
        let id = call(&out, |r| matches!(r, Request::GetPayment { .. }));
        self.answer(id, result)
    }
}

fn call(out: &[Output], want: impl Fn(&Request) -> bool) -> RequestId {
    let found: Vec<RequestId> = out
        .iter()
        .filter_map(|o| match o {
            Output::Call { id, request } if want(request) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one such call in {out:?}");
    found[0]
}

fn calls(out: &[Output]) -> Vec<&Request> {
    out.iter()
        .filter_map(|o| match o {
            Output::Call { request, .. } => Some(request),
            _ => None,
        })
        .collect()
}

fn create_call(out: &[Output]) -> (RequestId, PaymentRequest) {
    let id = call(out, |r| matches!(r, Request::CreatePayment(_)));
    let request = out
        .iter()
        .find_map(|o| match o {
            Output::Call {
                request: Request::CreatePayment(p),
                ..
            } => Some(p.clone()),
            _ => None,
        })
        .expect("create call");
    (id, request)
}

fn notices(out: &[Output]) -> Vec<Notice> {
    out.iter()
        .filter_map(|o| match o {
            Output::Notify(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn payment_statuses(out: &[Output]) -> Vec<PaymentStatus> {
    notices(out)
        .into_iter()
        .filter_map(|n| match n {
            Notice::Payment { status, .. } => Some(status),
            _ => None,
        })
        .collect()
}

fn state(state: PaymentState) -> Result<Response, Failure> {
    Ok(Response::Payment { state })
}

#[test]
fn wares_barcode_passes_through_and_touches_nothing() {
    let mut till = Till::new();
    till.identify_member();
    let before = till.lane.status();
    let out = till.feed(Input::Scan(Scan {
        scanner: "cashier".to_owned(),
        role: ScannerRole::Cashier,
        code: ScanCode::Barcode {
            data: "7038010069307".to_owned(),
            symbology: Some("]E0".to_owned()),
        },
    }));
    assert_eq!(
        out,
        vec![Output::Notify(Notice::Barcode {
            scanner: "cashier".to_owned(),
            role: ScannerRole::Cashier,
            data: "7038010069307".to_owned(),
            symbology: Some("]E0".to_owned()),
        })]
    );
    assert_eq!(till.lane.status(), before);
}

#[test]
fn member_scan_checks_in_then_pays_and_captures() {
    let mut till = Till::new();
    let out = till.scan_qr(QR_TOKEN, None);
    assert_eq!(
        notices(&out),
        vec![Notice::Session {
            session: 1,
            status: SessionStatus::Started
        }]
    );
    assert_eq!(
        calls(&out),
        vec![&Request::ExchangeQr {
            qr: QR_TOKEN.to_owned()
        }]
    );
    let exchange = call(&out, |_| true);
    let out = till.answer(
        exchange,
        Ok(Response::QrExchanged {
            msisdn: msisdn("4712345678"),
        }),
    );
    let find = call(&out, |r| {
        r == &Request::FindMember {
            msisdn: msisdn("4712345678"),
        }
    });
    let out = till.answer(find, Ok(Response::Member(Some(member("M-1")))));
    assert_eq!(
        notices(&out),
        vec![Notice::Customer(CustomerNotice::Identified {
            msisdn: msisdn("4712345678"),
            verified: true,
            membership: Membership::Member {
                contact_id: "M-1".to_owned()
            },
        })]
    );
    let check_in = call(&out, |r| {
        r == &Request::CheckIn {
            msisdn: msisdn("4712345678"),
        }
    });
    let out = till.answer(check_in, Ok(Response::CheckedIn));
    assert_eq!(notices(&out), vec![Notice::CheckIn(CheckInStatus::Sent)]);

    till.basket(49_900);
    let out = till.ok(Command::Pay);
    // The journal entry comes before the call: durable before anything is sent.
    let (
        Output::Persist(JournalEntry::Started {
            reference,
            idempotency_key,
            amount,
            ..
        }),
        rest,
    ) = (out[0].clone(), &out[1..])
    else {
        panic!("journal first: {out:?}")
    };
    assert_eq!(amount, nok(49_900));
    let (create, request) = create_call(rest);
    assert_eq!(request.reference, reference);
    assert_eq!(request.idempotency_key, idempotency_key);
    assert_eq!(
        request.customer,
        PaymentCustomer::Phone(msisdn("4712345678"))
    );
    assert!(reference.len() >= 8 && reference.len() <= 50 && idempotency_key.len() <= 50);
    assert!(
        reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    );
    assert_eq!(payment_statuses(rest), vec![PaymentStatus::Requested]);

    assert!(till.answer(create, Ok(Response::PaymentCreated)).is_empty());
    assert!(till.next_lookup(state(PaymentState::Created)).is_empty());
    let out = till.next_lookup(state(PaymentState::Authorized));
    assert_eq!(
        out,
        vec![
            Output::Persist(JournalEntry::Progressed {
                reference: reference.clone(),
                state: JournalState::Authorized,
                at: till.wall,
            }),
            Output::Enqueue(OutboxItem::Capture {
                reference: reference.clone(),
                amount: nok(49_900),
                idempotency_key: format!("{reference}-capture"),
            }),
            // A member's purchase, for the loyalty program once the capture is through.
            Output::RecordPurchase(flow::program::Purchase {
                reference: flow::program::Reference::new(&reference).expect("reference"),
                contact_id: "M-1".to_owned(),
                amount: nok(49_900),
                at: till.wall,
            }),
            Output::Notify(Notice::Payment {
                reference: reference.clone(),
                amount: nok(49_900),
                status: PaymentStatus::Authorized,
            }),
            Output::Notify(Notice::Session {
                session: 1,
                status: SessionStatus::Ended(EndReason::Paid),
            }),
        ]
    );
    assert_eq!(till.lane.status().basket, None, "the sale is done");
    assert_eq!(till.lane.poll_timeout(), None, "nothing left to wait for");

    let out = till.feed(Input::Settled(Settlement::Captured {
        reference: reference.clone(),
        amount: nok(49_900),
    }));
    assert_eq!(payment_statuses(&out), vec![PaymentStatus::Captured]);
    assert!(out.contains(&Output::Persist(JournalEntry::Progressed {
        reference,
        state: JournalState::Captured,
        at: till.wall,
    })));
}

#[test]
fn non_member_enrolls_through_login_by_phone_number() {
    let mut till = Till::new();
    till.identify_non_member();
    let out = till.ok(Command::Enroll);
    let Some(Request::StartLogin {
        msisdn: m,
        binding_message,
    }) = calls(&out).first().map(|r| (*r).clone())
    else {
        panic!("{out:?}")
    };
    assert_eq!(m, msisdn("4712345678"));
    assert!(
        (5..=8).contains(&binding_message.len())
            && binding_message
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'),
        "{binding_message}"
    );
    let start = call(&out, |_| true);
    let out = till.answer(
        start,
        Ok(Response::LoginStarted {
            auth_req_id: "auth-1".to_owned(),
            expires_in: Duration::from_secs(120),
            interval: Duration::from_secs(2),
        }),
    );
    assert_eq!(
        notices(&out),
        vec![Notice::Enrollment(EnrollmentStatus::Waiting {
            binding_message: binding_message.clone()
        })]
    );

    // Polls honour `interval`, not sooner.
    assert!(till.advance(Duration::from_millis(1_999)).is_empty());
    let out = till.advance(Duration::from_millis(1));
    let poll = call(&out, |r| {
        r == &Request::PollLogin {
            auth_req_id: "auth-1".to_owned(),
        }
    });
    assert!(
        till.answer(poll, Ok(Response::Login(LoginPoll::Pending)))
            .is_empty()
    );
    let out = till.advance(Duration::from_secs(2));
    let poll = call(&out, |r| matches!(r, Request::PollLogin { .. }));
    // slow_down adds five seconds to the interval.
    assert!(
        till.answer(poll, Ok(Response::Login(LoginPoll::SlowDown)))
            .is_empty()
    );
    assert!(till.advance(Duration::from_millis(6_999)).is_empty());
    let out = till.advance(Duration::from_millis(1));
    let poll = call(&out, |r| matches!(r, Request::PollLogin { .. }));
    let profile = Profile {
        sub: "sub-1".to_owned(),
        name: Some("Ola".to_owned()),
        ..Profile::default()
    };
    let out = till.answer(
        poll,
        Ok(Response::Login(LoginPoll::Approved(profile.clone()))),
    );
    // The member and their registration at Vipps are one durable step: the request names the
    // registration's event id, fixed before the call.
    let create = call(&out, |r| {
        matches!(r, Request::CreateMember { msisdn: m, profile: p, registration, joined_at }
            if *m == msisdn("4712345678") && *p == profile
                && registration.starts_with("evt-till-1-") && *joined_at == till.wall)
    });
    let new_member = member("M-7");
    let out = till.answer(create, Ok(Response::MemberCreated(new_member.clone())));
    assert!(
        !out.iter().any(|o| matches!(o, Output::Enqueue(_))),
        "the registration was queued with the member, not again: {out:?}"
    );
    assert_eq!(
        notices(&out),
        vec![
            Notice::Enrollment(EnrollmentStatus::Completed {
                contact_id: "M-7".to_owned()
            }),
            Notice::Customer(CustomerNotice::Identified {
                msisdn: msisdn("4712345678"),
                verified: true,
                membership: Membership::Member {
                    contact_id: "M-7".to_owned()
                },
            }),
        ]
    );
    // A new member is checked in like any member.
    call(&out, |r| matches!(r, Request::CheckIn { .. }));
}

#[test]
fn enrollment_declined_or_expired_leaves_a_non_member() {
    for (answer, expected) in [
        (LoginPoll::Denied, EnrollmentStatus::Declined),
        (LoginPoll::Expired, EnrollmentStatus::Expired),
    ] {
        let mut till = Till::new();
        till.identify_non_member();
        till.enroll_started(Duration::from_secs(60), Duration::from_secs(1));
        let out = till.advance(Duration::from_secs(1));
        let poll = call(&out, |_| true);
        let out = till.answer(poll, Ok(Response::Login(answer)));
        assert_eq!(notices(&out), vec![Notice::Enrollment(expected)]);
        assert!(!till.lane.status().enrolling);
        // The cashier may try again.
        till.ok(Command::Enroll);
    }
}

#[test]
fn enrollment_expires_locally_when_vipps_stays_silent() {
    let mut till = Till::new();
    till.identify_non_member();
    till.enroll_started(Duration::from_secs(10), Duration::from_secs(5));
    // The poll is sent and never answered (lost in the network).
    let out = till.advance(Duration::from_secs(5));
    call(&out, |_| true);
    let out = till.advance(Duration::from_secs(5));
    assert_eq!(
        notices(&out),
        vec![Notice::Enrollment(EnrollmentStatus::Expired)]
    );
}

#[test]
fn payment_declined_expired_or_terminated_keeps_the_customer_for_another_try() {
    for (final_state, reason) in [
        (PaymentState::Aborted, FailReason::Aborted),
        (PaymentState::Expired, FailReason::Expired),
        (PaymentState::Terminated, FailReason::Terminated),
    ] {
        let mut till = Till::new();
        till.identify_member();
        till.basket(10_000);
        let first = till.pay_created();
        let out = till.next_lookup(state(final_state));
        assert!(
            matches!(&payment_statuses(&out)[..], [PaymentStatus::Failed { reason: r, .. }] if *r == reason),
            "{out:?}"
        );
        assert!(out.contains(&Output::Persist(JournalEntry::Progressed {
            reference: first.clone(),
            state: JournalState::Failed,
            at: till.wall,
        })));
        assert!(till.lane.status().session.is_some(), "customer kept");
        assert_eq!(
            till.lane.poll_timeout().map(|_| ()),
            Some(()),
            "idle timer runs"
        );
        let second = till.pay_created();
        assert_ne!(first, second, "a new attempt is a new payment");
    }
}

#[test]
fn a_network_timeout_is_never_a_failed_payment() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    let (create, request) = create_call(&out);
    // The create call timed out: outcome unknown. Look it up.
    let out = till.answer(create, Err(Failure::Timeout("read timed out".to_owned())));
    assert!(out.is_empty(), "{out:?}");
    // Lookups fail for a while: keep looking.
    for failure in [
        Failure::Timeout("t".to_owned()),
        Failure::Rejected {
            status: 503,
            code: None,
            detail: "busy".to_owned(),
        },
        Failure::Unreachable("down".to_owned()),
    ] {
        let out = till.next_lookup(Err(failure));
        assert!(out.is_empty(), "{out:?}");
    }
    // Vipps never got it: send the same create again, same reference and key.
    let out = till.next_lookup(Err(Failure::Rejected {
        status: 404,
        code: None,
        detail: "not found".to_owned(),
    }));
    let (create, again) = create_call(&out);
    assert_eq!(again, request);
    till.answer(create, Ok(Response::PaymentCreated));
    let out = till.next_lookup(state(PaymentState::Authorized));
    assert_eq!(payment_statuses(&out), vec![PaymentStatus::Authorized]);
}

#[test]
fn unknown_create_gives_up_after_the_configured_attempts() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    let (mut create, _) = create_call(&out);
    let not_found = || {
        Err(Failure::Rejected {
            status: 404,
            code: None,
            detail: "not found".to_owned(),
        })
    };
    for _ in 0..2 {
        till.answer(create, Err(Failure::Timeout("t".to_owned())));
        let out = till.next_lookup(not_found());
        create = create_call(&out).0;
    }
    till.answer(create, Err(Failure::Timeout("t".to_owned())));
    let out = till.next_lookup(not_found());
    assert!(matches!(
        &payment_statuses(&out)[..],
        [PaymentStatus::Failed {
            reason: FailReason::Unavailable,
            ..
        }]
    ));
}

#[test]
fn vipps_unreachable_at_create_tells_the_register_at_once() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    let (create, _) = create_call(&out);
    let out = till.answer(
        create,
        Err(Failure::Unreachable("connection refused".to_owned())),
    );
    assert!(matches!(
        &payment_statuses(&out)[..],
        [PaymentStatus::Failed {
            reason: FailReason::Unavailable,
            ..
        }]
    ));
    assert!(till.lane.status().payment.is_none());
}

#[test]
fn a_refused_create_is_a_rejected_payment_with_a_readable_reason() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    let (create, _) = create_call(&out);
    let out = till.answer(
        create,
        Err(Failure::Rejected {
            status: 400,
            code: Some("7010".to_owned()),
            detail: "Customer not found".to_owned(),
        }),
    );
    assert_eq!(
        payment_statuses(&out),
        vec![PaymentStatus::Failed {
            reason: FailReason::Rejected,
            detail: "no Vipps user can receive this payment".to_owned(),
        }]
    );
}

#[test]
fn cancel_during_payment_cancels_at_vipps_and_ignores_late_answers() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let reference = till.pay_created();
    let out = till.advance(Duration::from_secs(1));
    let lookup = call(&out, |_| true);
    let out = till.ok(Command::Cancel);
    assert_eq!(
        out,
        vec![
            Output::Persist(JournalEntry::Progressed {
                reference: reference.clone(),
                state: JournalState::Cancelled,
                at: till.wall,
            }),
            Output::Enqueue(OutboxItem::Cancel {
                reference: reference.clone(),
                idempotency_key: format!("{reference}-cancel"),
            }),
            Output::Notify(Notice::Payment {
                reference,
                amount: nok(10_000),
                status: PaymentStatus::Cancelled,
            }),
            Output::Notify(Notice::Session {
                session: 1,
                status: SessionStatus::Ended(EndReason::Cancelled),
            }),
        ]
    );
    // The lookup sent before the cancel answers "authorized": too late, and ignored. The queued
    // cancel releases the reservation.
    assert!(
        till.answer(lookup, state(PaymentState::Authorized))
            .is_empty()
    );
    assert_eq!(till.lane.poll_timeout(), None);
}

#[test]
fn a_second_customer_scan_does_not_replace_the_paying_customer() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    till.pay_created();
    let before = till.lane.status();
    let out = till.scan_qr(QR_CLEAR, Some("4798765432"));
    assert!(matches!(
        &notices(&out)[..],
        [Notice::Rejected(Rejection {
            code: RejectCode::PaymentInProgress,
            ..
        })]
    ));
    assert!(calls(&out).is_empty());
    assert_eq!(till.lane.status(), before);
    let (result, _) = till.command(Command::Phone {
        number: "4798765432".to_owned(),
    });
    assert_eq!(
        result.map_err(|r| r.code),
        Err(RejectCode::PaymentInProgress)
    );
}

#[test]
fn another_customer_scan_replaces_a_customer_who_is_not_paying() {
    let mut till = Till::new();
    till.identify_member();
    let out = till.scan_qr(QR_CLEAR, Some("4712345678"));
    assert_eq!(
        notices(&out),
        vec![
            Notice::Session {
                session: 1,
                status: SessionStatus::Ended(EndReason::Replaced)
            },
            Notice::Session {
                session: 2,
                status: SessionStatus::Started
            },
        ]
    );
    // The same QR code scanned twice is the same customer.
    assert!(till.scan_qr(QR_CLEAR, Some("4712345678")).is_empty());
}

#[test]
fn pay_never_waits_for_the_membership_lookup_or_the_qr_exchange() {
    let mut till = Till::new();
    till.basket(10_000);
    till.scan_qr(QR_TOKEN, None);
    let out = till.ok(Command::Pay);
    let (_, request) = create_call(&out);
    assert_eq!(
        request.customer,
        PaymentCustomer::PersonalQr(QR_TOKEN.to_owned())
    );
}

#[test]
fn offline_qr_exchange_falls_back_to_the_clear_text_number_unverified() {
    let mut till = Till::new();
    let out = till.scan_qr(QR_CLEAR, Some("4712345678"));
    let exchange = call(&out, |_| true);
    let out = till.answer(exchange, Err(Failure::Unreachable("offline".to_owned())));
    let find = call(&out, |r| matches!(r, Request::FindMember { .. }));
    let out = till.answer(find, Ok(Response::Member(None)));
    assert_eq!(
        notices(&out),
        vec![Notice::Customer(CustomerNotice::Identified {
            msisdn: msisdn("4712345678"),
            verified: false,
            membership: Membership::NotMember,
        })]
    );
    // Paying an unverified number names the customer by the QR code itself.
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    assert_eq!(
        create_call(&out).1.customer,
        PaymentCustomer::PersonalQr(QR_CLEAR.to_owned())
    );
}

#[test]
fn a_qr_code_vipps_refuses_leaves_the_customer_unidentified() {
    let mut till = Till::new();
    let out = till.scan_qr(QR_TOKEN, None);
    let exchange = call(&out, |_| true);
    let out = till.answer(
        exchange,
        Err(Failure::Rejected {
            status: 400,
            code: None,
            detail: "bad qr".to_owned(),
        }),
    );
    assert!(matches!(
        &notices(&out)[..],
        [Notice::Customer(CustomerNotice::Unidentified { .. })]
    ));
    let (result, _) = till.command(Command::Enroll);
    assert_eq!(result.map_err(|r| r.code), Err(RejectCode::NoCustomer));
}

#[test]
fn the_directory_failing_leaves_membership_unknown_and_pay_available() {
    let mut till = Till::new();
    let out = till.ok(Command::Phone {
        number: "12345678".to_owned(),
    });
    let find = call(&out, |_| true);
    let out = till.answer(find, Err(Failure::Local("disk I/O error".to_owned())));
    assert!(matches!(
        &notices(&out)[..],
        [Notice::Customer(CustomerNotice::Identified {
            membership: Membership::Unknown,
            ..
        })]
    ));
    till.basket(10_000);
    till.pay_created();
}

#[test]
fn check_in_is_skipped_for_numbers_it_cannot_take_and_failures_are_harmless() {
    let mut till = Till::new();
    till.ok(Command::Phone {
        number: "+45 12 34 56 78".to_owned(),
    });
    let out = till.answer(
        RequestId(1),
        Ok(Response::Member(Some(Member {
            msisdn: msisdn("4512345678"),
            ..member("M-2")
        }))),
    );
    assert!(calls(&out).is_empty());
    assert!(
        notices(&out).contains(&Notice::CheckIn(CheckInStatus::Skipped {
            reason: "Vipps check-in is only available for Norwegian numbers".to_owned()
        }))
    );

    let mut till = Till::new();
    let out = till.scan_qr(QR_TOKEN, None);
    let exchange = call(&out, |_| true);
    let out = till.answer(
        exchange,
        Ok(Response::QrExchanged {
            msisdn: msisdn("4712345678"),
        }),
    );
    let find = call(&out, |_| true);
    let out = till.answer(find, Ok(Response::Member(Some(member("M-1")))));
    let check_in = call(&out, |r| matches!(r, Request::CheckIn { .. }));
    let out = till.answer(check_in, Err(Failure::Timeout("slow".to_owned())));
    assert!(matches!(
        &notices(&out)[..],
        [Notice::CheckIn(CheckInStatus::Failed { .. })]
    ));
}

#[test]
fn check_in_can_be_disabled() {
    let mut config = LaneConfig::new("till-1");
    config.check_in = false;
    let mut till = Till::with_config(config);
    till.ok(Command::Phone {
        number: "12345678".to_owned(),
    });
    let out = till.answer(RequestId(1), Ok(Response::Member(Some(member("M-1")))));
    assert!(calls(&out).is_empty());
}

#[test]
fn idle_customer_sessions_end_but_never_during_a_payment() {
    let mut till = Till::new();
    till.identify_member();
    till.advance(Duration::from_secs(30));
    // Activity (a wares scan) moves the deadline.
    till.feed(Input::Scan(Scan {
        scanner: "cashier".to_owned(),
        role: ScannerRole::Cashier,
        code: ScanCode::Barcode {
            data: "1".to_owned(),
            symbology: None,
        },
    }));
    assert!(notices(&till.advance(Duration::from_secs(59))).is_empty());
    let out = till.advance(Duration::from_secs(1));
    assert_eq!(
        notices(&out),
        vec![Notice::Session {
            session: 1,
            status: SessionStatus::Ended(EndReason::IdleTimeout)
        }]
    );

    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    till.pay_created();
    for _ in 0..120 {
        let out = till.next_lookup(state(PaymentState::Created));
        assert!(out.is_empty(), "{out:?}");
    }
    assert!(till.lane.status().session.is_some());
}

#[test]
fn commands_are_refused_with_stable_codes() {
    let mut till = Till::new();
    let code = |till: &mut Till, c: Command| till.command(c).0.map_err(|r| r.code);
    assert_eq!(code(&mut till, Command::Pay), Err(RejectCode::NoBasket));
    till.basket(10_000);
    assert_eq!(code(&mut till, Command::Pay), Err(RejectCode::NoCustomer));
    assert_eq!(
        code(&mut till, Command::Enroll),
        Err(RejectCode::NoCustomer)
    );
    assert_eq!(
        code(&mut till, Command::Cancel),
        Err(RejectCode::NothingToCancel)
    );
    assert_eq!(
        code(
            &mut till,
            Command::Phone {
                number: "12ab".to_owned()
            }
        ),
        Err(RejectCode::InvalidPhone)
    );
    assert_eq!(
        code(
            &mut till,
            Command::Basket(Basket {
                total: Money::new(Currency::Eur, 500),
                lines: vec![]
            })
        ),
        Err(RejectCode::InvalidAmount)
    );
    till.identify_member();
    assert_eq!(
        code(&mut till, Command::Enroll),
        Err(RejectCode::AlreadyMember)
    );
    till.basket(99);
    assert_eq!(
        code(&mut till, Command::Pay),
        Err(RejectCode::InvalidAmount)
    );
    till.basket(10_000);
    till.pay_created();
    assert_eq!(
        code(&mut till, Command::Pay),
        Err(RejectCode::PaymentInProgress)
    );
    assert_eq!(
        code(&mut till, Command::Reset),
        Err(RejectCode::PaymentInProgress)
    );
    assert_eq!(
        code(
            &mut till,
            Command::Basket(Basket {
                total: nok(1),
                lines: vec![]
            })
        ),
        Err(RejectCode::PaymentInProgress)
    );
}

#[test]
fn enroll_is_refused_while_the_membership_is_unknown() {
    let mut till = Till::new();
    till.ok(Command::Phone {
        number: "12345678".to_owned(),
    });
    let (result, _) = till.command(Command::Enroll);
    assert_eq!(
        result.map_err(|r| r.code),
        Err(RejectCode::MembershipUnknown)
    );
}

#[test]
fn a_refused_button_press_becomes_a_notice() {
    let mut till = Till::new();
    let out = till.feed(Input::Command {
        origin: Origin::Button,
        command: Command::Pay,
    });
    assert!(matches!(
        &out[..],
        [Output::Notify(Notice::Rejected(Rejection {
            code: RejectCode::NoBasket,
            ..
        }))]
    ));
}

#[test]
fn reset_forgets_basket_and_customer_and_cancels_an_enrollment() {
    let mut till = Till::new();
    till.basket(10_000);
    till.identify_non_member();
    let out = till.ok(Command::Enroll);
    let start = call(&out, |_| true);
    let out = till.ok(Command::Reset);
    assert_eq!(
        notices(&out),
        vec![
            Notice::Enrollment(EnrollmentStatus::Cancelled),
            Notice::Session {
                session: 1,
                status: SessionStatus::Ended(EndReason::Reset)
            },
        ]
    );
    let status = till.lane.status();
    assert_eq!((status.basket, status.session), (None, None));
    // The login answer arriving afterwards is ignored.
    assert!(
        till.answer(
            start,
            Ok(Response::LoginStarted {
                auth_req_id: "x".to_owned(),
                expires_in: Duration::from_secs(60),
                interval: Duration::from_secs(1),
            })
        )
        .is_empty()
    );
}

#[test]
fn references_are_unique_per_instance_and_never_repeat() {
    let mut references = std::collections::HashSet::new();
    for instance in ["a1", "b2"] {
        let mut till = Till::with_config(LaneConfig::new("till-1"));
        till.lane = Lane::new(LaneConfig::new("till-1"), instance);
        for _ in 0..3 {
            till.identify_member();
            till.basket(10_000);
            let reference = till.pay_created();
            till.next_lookup(state(PaymentState::Aborted));
            till.ok(Command::Cancel);
            assert!(references.insert(reference));
        }
    }
    assert_eq!(references.len(), 6);
}

#[test]
fn a_create_that_could_not_be_journaled_fails_at_once() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    let (create, _) = create_call(&out);
    let out = till.answer(create, Err(Failure::Local("disk full".to_owned())));
    assert!(matches!(
        &payment_statuses(&out)[..],
        [PaymentStatus::Failed {
            reason: FailReason::Unavailable,
            detail,
        }] if detail.contains("disk full")
    ));
    assert!(till.lane.status().payment.is_none());
}

#[test]
fn an_earlier_runs_capture_that_reached_vipps_is_settled_at_resume() {
    // The earlier run died after the relay delivered the capture and before the lane journaled
    // `captured`: nothing would ever send that settlement again.
    let mut till = Till::new();
    let journaled = |reference: &str, lane: &str, capture_delivered: bool| UnfinishedPayment {
        reference: reference.to_owned(),
        amount: nok(30_000),
        lane: lane.to_owned(),
        state: JournalState::Authorized,
        capture_delivered,
    };
    let out = till.feed(Input::Resume(vec![
        journaled("old-taken", "till-1", true),
        // Still queued: the relay delivers it and settles it then.
        journaled("old-queued", "till-1", false),
        // Another lane's: its own daemon settles it.
        journaled("other-till", "till-2", true),
    ]));
    assert_eq!(
        out,
        vec![
            Output::Persist(JournalEntry::Progressed {
                reference: "old-taken".to_owned(),
                state: JournalState::Captured,
                at: till.wall,
            }),
            Output::Notify(Notice::Payment {
                reference: "old-taken".to_owned(),
                amount: nok(30_000),
                status: PaymentStatus::Captured,
            }),
        ]
    );
    assert!(
        lookups(&out).is_empty(),
        "nothing authorized is looked up again"
    );
}

#[test]
fn payments_left_unfinished_by_an_earlier_run_are_looked_up_and_finished() {
    let mut till = Till::new();
    let journaled = |reference: &str, lane: &str, state: JournalState| UnfinishedPayment {
        reference: reference.to_owned(),
        amount: nok(30_000),
        lane: lane.to_owned(),
        state,
        capture_delivered: false,
    };
    let out = till.feed(Input::Resume(vec![
        journaled("old-approved", "till-1", JournalState::Pending),
        journaled("old-declined", "till-1", JournalState::Pending),
        journaled("old-lost", "till-1", JournalState::Pending),
        // Not resumed: another lane's payment, and one whose capture is already queued.
        journaled("other-till", "till-2", JournalState::Pending),
        journaled("old-captured", "till-1", JournalState::Authorized),
    ]));
    assert_eq!(lookups(&out).len(), 3, "{out:?}");

    // Round by round, as the lookups come due: "old-approved" stays CREATED, "old-declined"
    // times out, "old-lost" is not found. Nothing is reported while the outcome is open; a
    // payment is taken as never received only after five "not found" in a row (once could be a
    // create still on the wire when the earlier run died).
    let mut out = out;
    for round in 1..=5 {
        let mut reported = Vec::new();
        for (id, reference) in lookups(&out) {
            let answer = match reference.as_str() {
                "old-approved" => state(PaymentState::Created),
                "old-declined" => Err(Failure::Timeout("t".to_owned())),
                _ => Err(Failure::Rejected {
                    status: 404,
                    code: None,
                    detail: "not found".to_owned(),
                }),
            };
            reported.extend(payment_statuses(&till.answer(id, answer)));
        }
        if round < 5 {
            assert!(reported.is_empty(), "round {round}: {reported:?}");
        } else {
            assert!(
                matches!(
                    &reported[..],
                    [PaymentStatus::Failed {
                        reason: FailReason::Unavailable,
                        ..
                    }]
                ),
                "{reported:?}"
            );
        }
        out = till.advance(Duration::from_secs(1));
    }

    let again = lookups(&out);
    assert_eq!(
        again.len(),
        2,
        "the two unfinished ones are looked up again"
    );
    let approved = again
        .iter()
        .find(|(_, r)| r == "old-approved")
        .expect("lookup")
        .0;
    let declined = again
        .iter()
        .find(|(_, r)| r == "old-declined")
        .expect("lookup")
        .0;
    let out = till.answer(approved, state(PaymentState::Authorized));
    assert_eq!(
        out,
        vec![
            Output::Persist(JournalEntry::Progressed {
                reference: "old-approved".to_owned(),
                state: JournalState::Authorized,
                at: till.wall,
            }),
            Output::Enqueue(OutboxItem::Capture {
                reference: "old-approved".to_owned(),
                amount: nok(30_000),
                idempotency_key: "old-approved-capture".to_owned(),
            }),
            Output::Notify(Notice::Payment {
                reference: "old-approved".to_owned(),
                amount: nok(30_000),
                status: PaymentStatus::Authorized,
            }),
        ]
    );
    let out = till.answer(declined, state(PaymentState::Aborted));
    assert!(matches!(
        &payment_statuses(&out)[..],
        [PaymentStatus::Failed {
            reason: FailReason::Aborted,
            ..
        }]
    ));
    assert_eq!(till.lane.poll_timeout(), None, "all finished");
    // None of this touched the till's own sale.
    assert_eq!(till.lane.status().session, None);
}

/// The payment lookups in `out`, with their references.
fn lookups(out: &[Output]) -> Vec<(RequestId, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Call {
                id,
                request: Request::GetPayment { reference },
            } => Some((*id, reference.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_idle_timer_starts_over_when_a_long_payment_or_enrollment_ends() {
    // Idle timeout 60 s; the customer takes five minutes to let the payment expire.
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    till.pay_created();
    for _ in 0..299 {
        till.next_lookup(state(PaymentState::Created));
    }
    let out = till.next_lookup(state(PaymentState::Expired));
    assert!(
        !notices(&out)
            .iter()
            .any(|n| matches!(n, Notice::Session { .. }))
    );
    let out = till.advance(Duration::from_secs(59));
    assert!(notices(&out).is_empty(), "{out:?}");
    // Still the same customer: Pay again works.
    till.pay_created();

    // Same for an enrollment the customer declines after 90 s.
    let mut till = Till::new();
    till.identify_non_member();
    till.enroll_started(Duration::from_secs(300), Duration::from_secs(90));
    let out = till.advance(Duration::from_secs(90));
    let poll = call(&out, |_| true);
    till.answer(poll, Ok(Response::Login(LoginPoll::Denied)));
    let out = till.advance(Duration::from_secs(59));
    assert!(notices(&out).is_empty(), "{out:?}");
    assert!(till.lane.status().session.is_some());
}

#[test]
fn rescanning_a_code_that_could_not_be_exchanged_tries_again() {
    let mut till = Till::new();
    let out = till.scan_qr(QR_TOKEN, None);
    let exchange = call(&out, |_| true);
    till.answer(exchange, Err(Failure::Unreachable("offline".to_owned())));
    let out = till.scan_qr(QR_TOKEN, None);
    call(&out, |r| matches!(r, Request::ExchangeQr { .. }));
}

#[test]
fn enroll_is_refused_while_a_payment_waits() {
    let mut till = Till::new();
    till.identify_non_member();
    till.basket(10_000);
    till.pay_created();
    let (result, out) = till.command(Command::Enroll);
    assert_eq!(
        result.map_err(|r| r.code),
        Err(RejectCode::PaymentInProgress)
    );
    assert!(calls(&out).is_empty());
}

#[test]
fn login_polling_never_goes_faster_than_once_a_second() {
    let mut till = Till::new();
    till.identify_non_member();
    till.enroll_started(Duration::from_secs(60), Duration::ZERO);
    assert!(till.advance(Duration::from_millis(999)).is_empty());
    let out = till.advance(Duration::from_millis(1));
    call(&out, |r| matches!(r, Request::PollLogin { .. }));
}

fn offline() -> Input {
    Input::Connectivity(Connectivity::Offline {
        reason: "connection refused".to_owned(),
    })
}

#[test]
fn offline_pay_and_enroll_are_refused_at_once_and_nothing_is_sent() {
    let mut till = Till::new();
    till.identify_non_member();
    till.basket(10_000);
    let out = till.feed(offline());
    assert_eq!(
        notices(&out),
        vec![Notice::Vipps(Connectivity::Offline {
            reason: "connection refused".to_owned()
        })]
    );
    assert!(till.feed(offline()).is_empty(), "no news, no notice");

    for command in [Command::Pay, Command::Enroll] {
        let (result, out) = till.command(command);
        let rejection = result.expect_err("refused while offline");
        assert_eq!(rejection.code, RejectCode::VippsUnavailable);
        assert!(
            rejection.message.contains("connection refused"),
            "{rejection:?}"
        );
        assert!(out.is_empty(), "no call, no journal entry: {out:?}");
    }
    assert_eq!(till.lane.status().payment, None);

    // Vipps is back: the same customer pays without being scanned again.
    let out = till.feed(Input::Connectivity(Connectivity::Online));
    assert_eq!(notices(&out), vec![Notice::Vipps(Connectivity::Online)]);
    let out = till.ok(Command::Pay);
    create_call(&out);
}

#[test]
fn offline_a_clear_text_qr_is_read_locally_without_a_round_trip() {
    let mut till = Till::new();
    till.feed(offline());
    let out = till.scan_qr(QR_CLEAR, Some("4712345678"));
    assert!(
        !calls(&out)
            .iter()
            .any(|r| matches!(r, Request::ExchangeQr { .. })),
        "no exchange call while offline: {out:?}"
    );
    let find = call(&out, |r| matches!(r, Request::FindMember { .. }));
    let out = till.answer(find, Ok(Response::Member(Some(member("M-1")))));
    assert_eq!(
        notices(&out),
        vec![
            Notice::Customer(CustomerNotice::Identified {
                msisdn: msisdn("4712345678"),
                verified: false,
                membership: Membership::Member {
                    contact_id: "M-1".to_owned()
                },
            }),
            Notice::CheckIn(CheckInStatus::Skipped {
                reason: "Vipps cannot be reached".to_owned()
            }),
        ],
        "membership comes from the local directory; no check-in is attempted"
    );
    assert!(calls(&out).is_empty(), "{out:?}");
}

#[test]
fn offline_a_token_qr_cannot_be_read_and_the_cashier_is_told_why() {
    let mut till = Till::new();
    till.feed(offline());
    let out = till.scan_qr(QR_TOKEN, None);
    assert!(calls(&out).is_empty(), "{out:?}");
    let [
        Notice::Session { .. },
        Notice::Customer(CustomerNotice::Unidentified { reason }),
    ] = &notices(&out)[..]
    else {
        panic!("expected an unidentified customer: {out:?}");
    };
    assert!(reason.contains("unreachable"), "{reason}");
}

#[test]
fn a_payment_already_waiting_keeps_being_looked_up_while_offline() {
    let mut till = Till::new();
    till.identify_member();
    till.basket(10_000);
    let reference = till.pay_created();
    let out = till.feed(offline());
    assert_eq!(payment_statuses(&out), vec![]);
    // Offline is the driver's view; the lookup is still made, and its answer still counts.
    let out = till.next_lookup(state(PaymentState::Authorized));
    assert_eq!(payment_statuses(&out), vec![PaymentStatus::Authorized]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Enqueue(OutboxItem::Capture { reference: r, .. }) if *r == reference
    )));
}

#[test]
fn a_payment_method_for_norwegian_numbers_refuses_others_at_pay_and_sends_nothing() {
    let norwegian_only = || {
        let mut config = LaneConfig::new("till-1");
        config.norwegian_numbers_only = true;
        Till::with_config(config)
    };

    // A Danish customer, typed in: Pay is refused at once, with nothing journaled or sent.
    let mut till = norwegian_only();
    till.ok(Command::Phone {
        number: "+45 12 34 56 78".to_owned(),
    });
    till.answer(RequestId(1), Ok(Response::Member(None)));
    till.basket(10_000);
    let (result, out) = till.command(Command::Pay);
    let rejection = result.expect_err("a Danish number is refused");
    assert_eq!(rejection.code, RejectCode::UnsupportedNumber);
    assert_eq!(rejection.code.as_str(), "unsupported_number");
    assert!(rejection.message.contains("+47"), "{rejection:?}");
    assert!(out.is_empty(), "no call, no journal entry: {out:?}");
    assert_eq!(till.lane.status().payment, None);
    // The customer stays: the cashier takes another payment method or cancels.
    assert!(till.lane.status().customer.is_some());

    // A Norwegian customer pays as always.
    let mut till = norwegian_only();
    till.identify_member();
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    create_call(&out);

    // A QR code still being exchanged names no number yet: Pay goes ahead with the code.
    let mut till = norwegian_only();
    till.basket(10_000);
    till.scan_qr(QR_TOKEN, None);
    let out = till.ok(Command::Pay);
    assert_eq!(
        create_call(&out).1.customer,
        PaymentCustomer::PersonalQr(QR_TOKEN.to_owned())
    );

    // Without the rule (ePayment), the Danish customer pays.
    let mut till = Till::new();
    till.ok(Command::Phone {
        number: "+45 12 34 56 78".to_owned(),
    });
    till.answer(RequestId(1), Ok(Response::Member(None)));
    till.basket(10_000);
    let out = till.ok(Command::Pay);
    assert_eq!(
        create_call(&out).1.customer,
        PaymentCustomer::Phone(msisdn("4512345678"))
    );
}
