//! Is Vipps there? One request that needs no customer and changes nothing.

use reqwest::Method;

use crate::client::{Auth, Body, Call, Client, Retry};
use crate::error::Error;

impl Client {
    /// Asks the Access Token API for a token, once, without retries, and discards it (the cached
    /// token is left alone). `Ok` means Vipps answered; an `Err` that is [`Error::Unreachable`] or
    /// [`Error::Timeout`] means it could not be reached. A daemon that saw Vipps go away uses this
    /// to notice when it is back, without touching any payment.
    pub async fn probe(&self) -> Result<(), Error> {
        let call = Call {
            what: "accesstoken.probe",
            method: Method::POST,
            url: self.url("/accesstoken/get")?,
            auth: Auth::ClientHeaders,
            subscription_key: true,
            idempotency: None,
            body: Body::Empty,
            retry: Retry::Never,
        };
        self.send(&call).await.map(drop)
    }
}
