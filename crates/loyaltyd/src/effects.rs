//! Carries out the lane's calls: each `flow::Request` becomes a Vipps call or a members-directory
//! query, and each answer or error becomes a `flow::Response` or `flow::Failure`.
//!
//! This is translation only. What to call, when, and what an answer means are the lane's business.
//! Payments go through the configured [`vipps::PaymentApi`] (ePayment or eCom), whose common
//! [`vipps::PaymentState`] is mapped onto the lane's states below, so the lane and the register
//! see the same thing whichever backend answers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use flow::{Failure, LoginPoll, Msisdn, PaymentCustomer, PaymentState, Request, Response};
use tracing::{debug, warn};

use crate::directory::{Directory, DirectoryError};
use crate::reachability::Reachability;

/// The services calls go to.
#[derive(Debug, Clone)]
pub struct Effects {
    /// Vipps MobilePay.
    pub vipps: vipps::Client,
    /// The payment API payments go through: ePayment or eCom.
    pub payments: vipps::PaymentApi,
    /// The members directory.
    pub directory: Directory,
    /// Scopes asked for at enrollment.
    pub login_scope: String,
    /// Whether Vipps can be reached, judged from every call.
    pub reachability: Arc<Reachability>,
    /// Latency per Vipps endpoint.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Wakes the outbox relay when an effect queued something itself (a new member's
    /// registration).
    pub relay: Arc<tokio::sync::Notify>,
}

/// The metrics label of a request that goes to Vipps; `None` for the members directory.
fn endpoint(request: &Request) -> Option<&'static str> {
    Some(match request {
        Request::ExchangeQr { .. } => "qr.exchange",
        Request::CheckIn { .. } => "checkin",
        Request::StartLogin { .. } => "login.ciba",
        Request::PollLogin { .. } => "login.token",
        Request::CreatePayment(_) => "payment.create",
        Request::GetPayment { .. } => "payment.get",
        Request::FindMember { .. } | Request::CreateMember { .. } => return None,
    })
}

impl Effects {
    /// Awaits a Vipps call, noting whether Vipps answered.
    async fn vipps<T>(
        &self,
        call: impl Future<Output = Result<T, vipps::Error>>,
    ) -> Result<T, Failure> {
        let result = call.await;
        self.reachability.record(&result);
        result.map_err(failure)
    }

    /// Carries out one request, timing it when it goes to Vipps.
    pub async fn perform(&self, request: Request) -> Result<Response, Failure> {
        let endpoint = endpoint(&request);
        let started = std::time::Instant::now();
        let result = self.carry_out(request).await;
        if let Some(endpoint) = endpoint {
            self.metrics.vipps_call(endpoint, started.elapsed());
        }
        result
    }

    async fn carry_out(&self, request: Request) -> Result<Response, Failure> {
        match request {
            Request::ExchangeQr { qr } => {
                let exchanged = self.vipps(self.vipps.qr_exchange(&qr)).await?;
                let msisdn = Msisdn::new(&exchanged.msisdn).map_err(|e| {
                    Failure::Local(format!("the QR API returned an unusable number: {e}"))
                })?;
                Ok(Response::QrExchanged { msisdn })
            }
            Request::FindMember { msisdn } => self
                .directory
                .find(&msisdn)
                .await
                .map(Response::Member)
                .map_err(directory_failure),
            Request::CheckIn { msisdn } => {
                self.vipps(self.vipps.check_in(msisdn.as_str(), true))
                    .await?;
                Ok(Response::CheckedIn)
            }
            Request::StartLogin {
                msisdn,
                binding_message,
            } => {
                let started = self
                    .vipps(self.vipps.ciba_start(
                        msisdn.as_str(),
                        &self.login_scope,
                        Some(&binding_message),
                        None,
                    ))
                    .await?;
                Ok(Response::LoginStarted {
                    auth_req_id: started.auth_req_id,
                    expires_in: Duration::from_secs(started.expires_in),
                    interval: Duration::from_secs(started.interval),
                })
            }
            Request::PollLogin { auth_req_id } => {
                let poll = self.vipps(self.vipps.ciba_poll(&auth_req_id)).await?;
                Ok(Response::Login(match poll {
                    vipps::CibaPoll::Pending => LoginPoll::Pending,
                    vipps::CibaPoll::SlowDown => LoginPoll::SlowDown,
                    vipps::CibaPoll::Denied => LoginPoll::Denied,
                    vipps::CibaPoll::Expired => LoginPoll::Expired,
                    vipps::CibaPoll::Approved(user) => LoginPoll::Approved(flow::Profile {
                        sub: user.sub,
                        name: user.name,
                        email: user.email,
                        preferences: flow::CommunicationPreferences::default(),
                    }),
                }))
            }
            Request::CreateMember {
                msisdn,
                profile,
                joined_at,
                registration,
            } => {
                let created = self
                    .directory
                    .create(&msisdn, &profile, joined_at, &registration)
                    .await;
                // The registration was queued with the member: the relay may send it now.
                if created.is_ok() {
                    self.relay.notify_one();
                }
                created
                    .map(Response::MemberCreated)
                    .map_err(directory_failure)
            }
            Request::CreatePayment(payment) => {
                // With eCom, a personal QR code is exchanged for the number by the client.
                let payer = match &payment.customer {
                    PaymentCustomer::Phone(msisdn) => vipps::Payer::Phone(msisdn.as_str()),
                    PaymentCustomer::PersonalQr(qr) => vipps::Payer::PersonalQr(qr),
                };
                let amount = amount(payment.amount);
                let request = vipps::PaymentRequest {
                    reference: &payment.reference,
                    idempotency_key: &payment.idempotency_key,
                    amount: &amount,
                    payer,
                    description: &payment.description,
                };
                self.vipps(self.payments.create(&self.vipps, &request))
                    .await?;
                Ok(Response::PaymentCreated)
            }
            Request::GetPayment { reference } => {
                let result = self.payments.state(&self.vipps, &reference).await;
                self.reachability.record(&result);
                let state = lane_state(result.map_err(payment_failure)?)?;
                debug!(%reference, ?state, api = self.payments.name(), "payment looked up");
                Ok(Response::Payment { state })
            }
        }
    }
}

/// The lane's view of a payment's state.
///
/// The lane asks one thing of a state: is the customer's part over, and how did it end. So a
/// captured payment (which the lane has not captured yet: an earlier run's, or a replay) is
/// authorized to it, and the capture it queues then finds the work done. eCom's `CANCEL` cannot
/// tell a decline from a timeout, and a refused reservation is the customer's payment not going
/// through: both are "aborted" (the customer did not complete the payment). A state this daemon
/// does not know is looked at again later, like an answer that never came.
pub fn lane_state(state: vipps::PaymentState) -> Result<PaymentState, Failure> {
    use vipps::FailReason as Why;
    Ok(match state {
        vipps::PaymentState::Pending => PaymentState::Created,
        vipps::PaymentState::Authorized | vipps::PaymentState::Captured => PaymentState::Authorized,
        vipps::PaymentState::Failed(Why::Declined | Why::NotCompleted | Why::Refused) => {
            PaymentState::Aborted
        }
        vipps::PaymentState::Failed(Why::Expired) => PaymentState::Expired,
        vipps::PaymentState::Failed(Why::Cancelled) => PaymentState::Terminated,
        vipps::PaymentState::Unknown(name) => {
            warn!(state = %name, "unknown payment state; looking again later");
            return Err(Failure::Timeout(format!("unknown payment state {name:?}")));
        }
    })
}

/// A failed payment lookup as the lane sees it. "No such payment" is 404 to the lane whichever
/// API said it (eCom may say it with HTTP 400 and code 35): that is how the lane tells a create
/// that never arrived.
fn payment_failure(error: vipps::Error) -> Failure {
    if error.is_not_found() {
        let detail = error.to_string();
        let code = error.problem().and_then(|p| p.error_code.clone());
        return Failure::Rejected {
            status: 404,
            code,
            detail,
        };
    }
    failure(error)
}

/// A members-directory error as the lane sees it: a local failure (membership unknown, or the
/// enrollment failed). Logged here, since the lane only tells the register.
fn directory_failure(error: DirectoryError) -> Failure {
    warn!("{error}");
    Failure::Local(error.to_string())
}

/// A flow amount as a Vipps amount.
pub fn amount(money: flow::Money) -> vipps::epayment::Amount {
    vipps::epayment::Amount {
        currency: money.currency.code().to_owned(),
        value: money.minor,
    }
}

/// A Vipps error as the lane sees it: nothing sent, outcome unknown, or a definitive answer.
pub fn failure(error: vipps::Error) -> Failure {
    match &error {
        vipps::Error::Unreachable(e) => Failure::Unreachable(e.to_string()),
        vipps::Error::Timeout(e) => Failure::Timeout(e.to_string()),
        vipps::Error::Api(problem) => Failure::Rejected {
            status: problem.status,
            code: problem.error_code.clone(),
            detail: problem
                .detail
                .clone()
                .or_else(|| problem.title.clone())
                .unwrap_or_else(|| format!("HTTP {}", problem.status)),
        },
        // Vipps answered, but not readably: what it did is unknown, like a timeout.
        vipps::Error::Decode(detail) => Failure::Timeout(detail.clone()),
        // Refused before sending: nothing reached Vipps.
        vipps::Error::Config(_)
        | vipps::Error::InvalidArgument(_)
        | vipps::Error::PhoneNumber(_) => Failure::Local(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_raised_before_sending_are_local() {
        assert!(matches!(
            failure(vipps::Error::Decode("garbled".to_owned())),
            Failure::Timeout(_)
        ));
        assert!(matches!(
            failure(vipps::Error::InvalidArgument("bad key".to_owned())),
            Failure::Local(_)
        ));
        assert!(matches!(
            failure(vipps::Error::Config("bad url".to_owned())),
            Failure::Local(_)
        ));
    }

    #[test]
    fn both_payment_apis_states_reach_the_lane_as_epayment_states_did() {
        use vipps::{FailReason as Why, PaymentState as Common};
        for (common, lane) in [
            (Common::Pending, PaymentState::Created),
            (Common::Authorized, PaymentState::Authorized),
            (Common::Captured, PaymentState::Authorized),
            (Common::Failed(Why::Declined), PaymentState::Aborted),
            (Common::Failed(Why::NotCompleted), PaymentState::Aborted),
            (Common::Failed(Why::Refused), PaymentState::Aborted),
            (Common::Failed(Why::Expired), PaymentState::Expired),
            (Common::Failed(Why::Cancelled), PaymentState::Terminated),
        ] {
            assert_eq!(lane_state(common.clone()), Ok(lane), "{common:?}");
        }
        assert!(matches!(
            lane_state(Common::Unknown("PAUSED".to_owned())),
            Err(Failure::Timeout(_))
        ));
    }

    #[test]
    fn no_such_payment_is_404_to_the_lane_whichever_api_says_it() {
        let ecom_not_found = vipps::Error::Api(Box::new(vipps::Problem {
            status: 400,
            error_code: Some("35".to_owned()),
            ecom: true,
            ..vipps::Problem::default()
        }));
        assert!(matches!(
            payment_failure(ecom_not_found),
            Failure::Rejected { status: 404, code: Some(code), .. } if code == "35"
        ));
        let epayment_not_found = vipps::Error::Api(Box::new(vipps::Problem {
            status: 404,
            ..vipps::Problem::default()
        }));
        assert!(matches!(
            payment_failure(epayment_not_found),
            Failure::Rejected { status: 404, .. }
        ));
        // Any other eCom 400 stays what it was.
        let refused = vipps::Error::Api(Box::new(vipps::Problem {
            status: 400,
            error_code: Some("81".to_owned()),
            ecom: true,
            ..vipps::Problem::default()
        }));
        assert!(matches!(
            payment_failure(refused),
            Failure::Rejected { status: 400, .. }
        ));
    }
}
