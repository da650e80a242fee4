//! How a scripted customer reacts to a payment request over time, for every payment API.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::PaymentBehavior;

/// What the customer did with a payment request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Approved in the app.
    Approved,
    /// Rejected in the app.
    Declined,
    /// Did nothing until the request expired.
    Expired,
}

/// A payment request as the customer sees it: who reacts how, and its clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaymentRequest {
    /// What the customer's script says to do.
    pub behavior: PaymentBehavior,
    /// Time from the request until the customer acts.
    pub delay: Duration,
    /// Time from the request until it expires.
    pub expires_after: Duration,
    /// When the request was made.
    pub created_at: Instant,
}

impl PaymentRequest {
    /// The customer's reaction and when it happened, if it has happened by `now`. An approval or
    /// a decline that would come after the expiry never comes: the request expires instead.
    pub(crate) fn reaction(&self, now: Instant) -> Option<(Reaction, Instant)> {
        let acts_at = self.created_at + self.delay;
        let expires_at = self.created_at + self.expires_after;
        let act = match self.behavior {
            PaymentBehavior::Approve => Some(Reaction::Approved),
            PaymentBehavior::Decline => Some(Reaction::Declined),
            PaymentBehavior::Ignore | PaymentBehavior::NotFound => None,
        };
        match act {
            Some(reaction) if acts_at <= expires_at && now >= acts_at => Some((reaction, acts_at)),
            _ if now >= expires_at => Some((Reaction::Expired, expires_at)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(behavior: PaymentBehavior, delay_ms: u64, t0: Instant) -> PaymentRequest {
        PaymentRequest {
            behavior,
            delay: Duration::from_millis(delay_ms),
            expires_after: Duration::from_millis(1000),
            created_at: t0,
        }
    }

    #[test]
    fn reactions_come_after_the_delay_unless_the_request_expired_first() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let approve = request(PaymentBehavior::Approve, 100, t0);
        assert_eq!(approve.reaction(t0 + ms(99)), None);
        assert_eq!(
            approve.reaction(t0 + ms(100)),
            Some((Reaction::Approved, t0 + ms(100)))
        );
        let decline = request(PaymentBehavior::Decline, 0, t0);
        assert_eq!(decline.reaction(t0), Some((Reaction::Declined, t0)));
        let ignore = request(PaymentBehavior::Ignore, 0, t0);
        assert_eq!(ignore.reaction(t0 + ms(999)), None);
        assert_eq!(
            ignore.reaction(t0 + ms(5000)),
            Some((Reaction::Expired, t0 + ms(1000)))
        );
        let slow = request(PaymentBehavior::Approve, 5000, t0);
        assert_eq!(
            slow.reaction(t0 + ms(6000)),
            Some((Reaction::Expired, t0 + ms(1000)))
        );
    }
}
