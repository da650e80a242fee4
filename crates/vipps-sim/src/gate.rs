//! The checks every merchant API call passes before its handler runs: subscription key, access
//! token, merchant serial number and the `Vipps-System-*` headers. Each failure is answered in the
//! shape the real gateway or API uses.

use axum::http::{HeaderMap, StatusCode};
use tokio::time::Instant;

use crate::reply::{self, EcomError, EcomGroup, Problem, Reply};
use crate::state::Shared;

/// The `Vipps-System-*` metadata headers.
pub(crate) const SYSTEM_HEADERS: [&str; 4] = [
    "vipps-system-name",
    "vipps-system-version",
    "vipps-system-plugin-name",
    "vipps-system-plugin-version",
];

/// The longest value a `Vipps-System-*` header may have, in characters.
const SYSTEM_HEADER_MAX: usize = 30;

/// Which merchant API a request is for; it decides the shape of a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Epayment,
    Ecom,
    Qr,
    CheckIn,
    Loyalty,
}

impl Api {
    /// A 400 naming one invalid parameter, in this API's error shape.
    pub(crate) fn invalid(self, path: &str, name: &str, reason: String) -> Reply {
        match self {
            Self::CheckIn => reply::check_in_invalid(&[(name.to_owned(), reason)]),
            Self::Ecom => EcomError::invalid([(name, reason.as_str())]).into_reply(),
            Self::Epayment | Self::Qr | Self::Loyalty => {
                Problem::invalid(name, reason).at(path).into_reply()
            }
        }
    }

    /// The 403 for a `Merchant-Serial-Number` the keys do not give access to.
    pub(crate) fn forbidden(self, path: &str) -> Reply {
        const DETAIL: &str = "The API keys do not give access to this Merchant-Serial-Number.";
        match self {
            Self::Ecom => forbidden_merchant().into_reply(),
            Self::Epayment | Self::Qr | Self::CheckIn | Self::Loyalty => {
                Problem::new(StatusCode::FORBIDDEN, "Forbidden", DETAIL)
                    .at(path)
                    .into_reply()
            }
        }
    }
}

/// eCom's answer for a merchant serial number (header or body) the keys do not cover.
pub(crate) fn forbidden_merchant() -> EcomError {
    EcomError::new(
        StatusCode::FORBIDDEN,
        EcomGroup::Merchant,
        "37",
        "Merchant not available, deactivated or blocked: the API keys do not give access to this \
         merchantSerialNumber.",
    )
}

/// A header's value: absent, readable text, or bytes that are not visible ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header<'a> {
    Missing,
    Text(&'a str),
    Unreadable,
}

/// Reads one header.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Header<'a> {
    match headers.get(name) {
        None => Header::Missing,
        Some(value) => value.to_str().map_or(Header::Unreadable, Header::Text),
    }
}

/// Runs every check for a merchant API call (ePayment, eCom, QR, Check-in, Loyalty).
pub(crate) fn merchant_call(
    shared: &Shared,
    headers: &HeaderMap,
    api: Api,
    path: &str,
) -> Result<(), Reply> {
    subscription_key(shared, headers)?;
    access_token(shared, headers)?;
    merchant_serial_number(shared, headers, api, path)?;
    system_headers(headers, api == Api::Loyalty, |name, reason| {
        api.invalid(path, name, reason)
    })
}

/// `Ocp-Apim-Subscription-Key` must be the configured key; the Azure gateway answers 401 in its
/// own shape otherwise.
pub(crate) fn subscription_key(shared: &Shared, headers: &HeaderMap) -> Result<(), Reply> {
    match header(headers, "ocp-apim-subscription-key") {
        Header::Text(key) if key == shared.config.subscription_key => Ok(()),
        Header::Missing => Err(reply::gateway_unauthorized(
            "Access denied due to missing subscription key. Make sure to include subscription \
             key when making requests to an API.",
        )),
        Header::Text(_) | Header::Unreadable => Err(reply::gateway_unauthorized(
            "Access denied due to invalid subscription key. Make sure to provide a valid key \
             for an active subscription.",
        )),
    }
}

/// `Authorization: Bearer <token>` with a token this simulator issued and that has not expired.
fn access_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Reply> {
    let denied =
        || reply::gateway_unauthorized("Unauthorized. Access token is missing or invalid.");
    let Header::Text(value) = header(headers, "authorization") else {
        return Err(denied());
    };
    let Some(token) = value.strip_prefix("Bearer ") else {
        return Err(denied());
    };
    let now = Instant::now();
    let world = shared.world();
    match world.access_tokens.get(token) {
        Some(expires_at) if now < *expires_at => Ok(()),
        _ => Err(denied()),
    }
}

/// `Merchant-Serial-Number` must be the configured MSN: another sales unit's number is a 403.
/// It is required (missing is a 400) except for eCom, where the spec makes it optional.
fn merchant_serial_number(
    shared: &Shared,
    headers: &HeaderMap,
    api: Api,
    path: &str,
) -> Result<(), Reply> {
    match header(headers, "merchant-serial-number") {
        Header::Text(msn) if msn == shared.config.merchant_serial_number => Ok(()),
        Header::Missing if api == Api::Ecom => Ok(()),
        Header::Missing => Err(api.invalid(
            path,
            "Merchant-Serial-Number",
            "The Merchant-Serial-Number header is required.".to_owned(),
        )),
        Header::Text(_) | Header::Unreadable => Err(api.forbidden(path)),
    }
}

/// The `Vipps-System-*` headers are at most 30 characters each, and all four are present when
/// `required`. `invalid` builds the error from the header's name and what is wrong.
pub(crate) fn system_headers<E>(
    headers: &HeaderMap,
    required: bool,
    invalid: impl Fn(&str, String) -> E,
) -> Result<(), E> {
    for name in SYSTEM_HEADERS {
        let display = display_name(name);
        match header(headers, name) {
            Header::Missing if required => {
                return Err(invalid(
                    display,
                    format!("The {display} header is required."),
                ));
            }
            Header::Missing => {}
            Header::Text(value) if value.chars().count() <= SYSTEM_HEADER_MAX => {}
            Header::Text(_) => {
                return Err(invalid(
                    display,
                    format!("The {display} header must be at most {SYSTEM_HEADER_MAX} characters."),
                ));
            }
            Header::Unreadable => {
                return Err(invalid(
                    display,
                    format!("The {display} header must be visible ASCII text."),
                ));
            }
        }
    }
    Ok(())
}

/// The header's name as Vipps documents it.
fn display_name(name: &str) -> &'static str {
    match name {
        "vipps-system-name" => "Vipps-System-Name",
        "vipps-system-version" => "Vipps-System-Version",
        "vipps-system-plugin-name" => "Vipps-System-Plugin-Name",
        _ => "Vipps-System-Plugin-Version",
    }
}
