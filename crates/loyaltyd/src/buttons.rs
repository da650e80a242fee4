//! The till's own controls: GPIO buttons in, LEDs and buzzer out.
//!
//! Buttons enter the lane exactly like register commands (`Origin::Button`, so a refusal becomes a
//! `rejected` event rather than a reply). The panel shows what the lane tells the register, so a
//! cashier can follow a sale without looking at a screen. Which light means what is the gpio
//! crate's `Cue` table; this module only says which notice is which cue.

use flow::{CustomerNotice, EnrollmentStatus, Membership, Notice, PaymentStatus};
use tracing::{info, warn};

use crate::config::{GpioMode, GpioSettings};

/// The lane command a button stands for.
pub fn command(action: gpio::Action) -> flow::Command {
    match action {
        gpio::Action::Enroll => flow::Command::Enroll,
        gpio::Action::Pay => flow::Command::Pay,
        gpio::Action::Cancel => flow::Command::Cancel,
    }
}

/// What the panel shows for a notice, if anything.
pub fn cue(notice: &Notice) -> Option<gpio::Cue> {
    use gpio::Cue;
    Some(match notice {
        // Every scan already beeped as it was read.
        Notice::Barcode { .. } => return None,
        Notice::Customer(CustomerNotice::Identified {
            membership: Membership::Member { .. },
            ..
        }) => Cue::Member,
        Notice::Customer(_) => Cue::NotMember,
        Notice::Enrollment(EnrollmentStatus::Waiting { .. }) => Cue::Waiting,
        Notice::Enrollment(EnrollmentStatus::Completed { .. }) => Cue::Enrolled,
        Notice::Enrollment(EnrollmentStatus::Cancelled) => Cue::Cancelled,
        Notice::Enrollment(_) => Cue::Failed,
        Notice::Payment { status, .. } => match status {
            PaymentStatus::Requested => Cue::Waiting,
            PaymentStatus::Authorized => Cue::Paid,
            PaymentStatus::Failed { .. } => Cue::Failed,
            PaymentStatus::Cancelled => Cue::Cancelled,
            // The register cares about the capture; the cashier already saw "paid".
            PaymentStatus::Captured => return None,
        },
        Notice::Session {
            status: flow::SessionStatus::Ended(_),
            ..
        } => Cue::Idle,
        Notice::Session { .. } => return None,
        Notice::Rejected(_) => Cue::Refused,
        Notice::CheckIn(_) => return None,
        Notice::Vipps(flow::Connectivity::Online) => Cue::Online,
        Notice::Vipps(flow::Connectivity::Offline { .. }) => Cue::Offline,
    })
}

/// Opens the GPIO the configuration asks for. `Ok(None)`: no GPIO in use (off, or optional and
/// this machine has none). An error means the daemon must not start: GPIO is required and
/// missing, or present but unusable (a pin taken, no permission), which a cashier would otherwise
/// find out by pressing a dead button.
pub fn open(settings: &GpioSettings) -> Result<Option<gpio::Hardware>, gpio::GpioError> {
    if settings.mode == GpioMode::Off || settings.wiring.is_empty() {
        return Ok(None);
    }
    match gpio::open(&settings.wiring) {
        Ok(hardware) => {
            info!("GPIO buttons and lights ready");
            Ok(Some(hardware))
        }
        Err(e) if e.is_unavailable() && settings.mode == GpioMode::Optional => {
            warn!("starting without GPIO buttons and lights: {e}");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paid_sale_lights_paid_and_a_refusal_is_refused() {
        let paid = Notice::Payment {
            reference: "r-1".to_owned(),
            amount: flow::Money::new(flow::Currency::Nok, 100),
            status: PaymentStatus::Authorized,
        };
        assert_eq!(cue(&paid), Some(gpio::Cue::Paid));
        let refused = Notice::Rejected(flow::Rejection {
            code: flow::RejectCode::NoCustomer,
            message: "no customer".to_owned(),
        });
        assert_eq!(cue(&refused), Some(gpio::Cue::Refused));
        assert_eq!(command(gpio::Action::Cancel), flow::Command::Cancel);
    }

    #[test]
    fn without_gpio_configured_nothing_is_opened() {
        let settings = GpioSettings {
            mode: GpioMode::Optional,
            wiring: gpio::GpioConfig::suggested(),
        };
        // This machine is not a Pi: optional GPIO starts without it.
        assert!(open(&settings).expect("optional").is_none());
        let required = GpioSettings {
            mode: GpioMode::Required,
            ..settings
        };
        let error = open(&required).expect_err("required GPIO off a Pi");
        assert!(error.is_unavailable(), "{error}");
    }
}
