//! The soak's customers: the seeded member, six regulars who are not members yet, and newcomers
//! made up as the soak goes, each with a QR code and a way of answering in the app.

use std::time::Duration;

use vipps_sim::{CustomerScript, LoginBehavior, PaymentBehavior};

use crate::till::{MEMBER, MEMBER_QR, Till};

/// A simulated customer: how they show up at the till, and how they answer in the app.
#[derive(Debug, Clone)]
pub struct Shopper {
    pub msisdn: String,
    pub qr: String,
    payment: PaymentBehavior,
    payment_delay: Duration,
    login: LoginBehavior,
}

impl Shopper {
    /// The number as the register sees it.
    pub fn e164(&self) -> String {
        format!("+{}", self.msisdn)
    }

    /// Makes the simulator know the customer: their script, and their QR code if tokenized.
    pub fn introduce(&self, till: &Till) {
        till.sim.set_customer(
            &self.msisdn,
            CustomerScript {
                payment: self.payment,
                payment_delay: self.payment_delay,
                login: self.login,
                login_delay: Duration::from_millis(300),
                ..CustomerScript::default()
            },
        );
        if !self.qr.contains(CLEAR_TEXT) {
            till.sim.map_qr_token(&self.qr, &self.msisdn);
        }
    }
}

/// The path of a clear-text Vipps QR code, which carries the number itself.
const CLEAR_TEXT: &str = "/28/2/01/031/";

fn shopper(
    msisdn: &str,
    qr: String,
    payment: PaymentBehavior,
    delay_ms: u64,
    login: LoginBehavior,
) -> Shopper {
    Shopper {
        msisdn: msisdn.to_owned(),
        qr,
        payment,
        payment_delay: Duration::from_millis(delay_ms),
        login,
    }
}

fn clear_text(msisdn: &str) -> String {
    format!("https://qr.vipps.no{CLEAR_TEXT}{msisdn}?v=1")
}

/// The seeded member and six customers who are not members yet: clear-text and tokenized QR
/// codes; quick, slow, declining and ignoring payers; one who will not join.
pub fn regulars() -> Vec<Shopper> {
    use LoginBehavior::{Consent, Decline};
    use PaymentBehavior::{Approve, Decline as Refuse, Ignore};
    let token = |n: u32| format!("https://qr.vipps.no/p/SoakToken{n:04}xQ7");
    vec![
        shopper(MEMBER, MEMBER_QR.to_owned(), Approve, 300, Consent),
        shopper("4790000001", token(1), Approve, 300, Consent),
        shopper("4790000002", token(2), Approve, 1_500, Consent),
        shopper("4790000003", clear_text("4790000003"), Refuse, 400, Consent),
        shopper(
            "4790000004",
            clear_text("4790000004"),
            Approve,
            800,
            Consent,
        ),
        shopper("4790000005", token(5), Ignore, 300, Consent),
        shopper("4790000006", token(6), Approve, 200, Decline),
    ]
}

/// The `n`th customer never seen before: a quick payer who joins when asked, with a tokenized
/// QR code (or, every third, a clear-text one).
pub fn newcomer(n: u32) -> Shopper {
    let msisdn = format!("4791{n:06}");
    let qr = if n.is_multiple_of(3) {
        clear_text(&msisdn)
    } else {
        format!("https://qr.vipps.no/p/SoakNew{n:06}kW")
    };
    shopper(
        &msisdn,
        qr,
        PaymentBehavior::Approve,
        250,
        LoginBehavior::Consent,
    )
}
