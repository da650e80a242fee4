//! Carries out the lane's calls: each `flow::Request` becomes a Vipps call or a members-directory
//! query, and each answer or error becomes a `flow::Response` or `flow::Failure`.
//!
//! This is translation only. What to call, when, and what an answer means are the lane's business.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use flow::{Failure, LoginPoll, Msisdn, PaymentCustomer, PaymentState, Request, Response};
use tracing::{debug, warn};

use crate::reachability::Reachability;

/// The services calls go to.
#[derive(Debug, Clone)]
pub struct Effects {
    /// Vipps MobilePay.
    pub vipps: vipps::Client,
    /// The members directory.
    pub store: store::Store,
    /// Scopes asked for at enrollment.
    pub login_scope: String,
    /// Whether Vipps can be reached, judged from every call.
    pub reachability: Arc<Reachability>,
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

    /// Carries out one request.
    pub async fn perform(&self, request: Request) -> Result<Response, Failure> {
        match request {
            Request::ExchangeQr { qr } => {
                let exchanged = self.vipps(self.vipps.qr_exchange(&qr)).await?;
                let msisdn = Msisdn::new(&exchanged.msisdn).map_err(|e| {
                    Failure::Local(format!("the QR API returned an unusable number: {e}"))
                })?;
                Ok(Response::QrExchanged { msisdn })
            }
            Request::FindMember { msisdn } => self
                .store
                .find_member(&msisdn)
                .await
                .map(Response::Member)
                .map_err(|e| Failure::Local(format!("members directory: {e}"))),
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
            } => self
                .store
                .create_member(&msisdn, &profile, joined_at)
                .await
                .map(Response::MemberCreated)
                .map_err(|e| Failure::Local(format!("members directory: {e}"))),
            Request::CreatePayment(payment) => {
                let customer = match &payment.customer {
                    PaymentCustomer::Phone(msisdn) => {
                        vipps::epayment::Customer::PhoneNumber(msisdn.as_str().to_owned())
                    }
                    PaymentCustomer::PersonalQr(qr) => {
                        vipps::epayment::Customer::PersonalQr(qr.clone())
                    }
                };
                let body = vipps::epayment::CreatePaymentRequest::push_message(
                    payment.reference.clone(),
                    amount(payment.amount),
                    customer,
                    payment.description.clone(),
                );
                self.vipps(self.vipps.create_payment(&body, &payment.idempotency_key))
                    .await?;
                Ok(Response::PaymentCreated)
            }
            Request::GetPayment { reference } => {
                let payment = self.vipps(self.vipps.get_payment(&reference)).await?;
                let state = match payment.state {
                    vipps::epayment::State::Created => PaymentState::Created,
                    vipps::epayment::State::Authorized => PaymentState::Authorized,
                    vipps::epayment::State::Aborted => PaymentState::Aborted,
                    vipps::epayment::State::Expired => PaymentState::Expired,
                    vipps::epayment::State::Terminated => PaymentState::Terminated,
                    other => {
                        warn!(?other, "unknown ePayment state; looking again later");
                        return Err(Failure::Timeout(format!("unknown payment state {other:?}")));
                    }
                };
                debug!(%reference, ?state, "payment looked up");
                Ok(Response::Payment { state })
            }
        }
    }
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
        vipps::Error::Config(_) | vipps::Error::InvalidArgument(_) => {
            Failure::Local(error.to_string())
        }
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
}
