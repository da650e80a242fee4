-- The register events that told a payment's outcome (authorized, captured, failed, cancelled),
-- as the daemon published them, written in the same transaction as the journal step they
-- report. A daemon killed between that transaction and the event's delivery would otherwise
-- leave the register without the outcome; the next start publishes recent ones again.
-- Opaque to the store: the daemon serializes and reads the event.
CREATE TABLE payment_outcomes (
    reference   TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (reference, status)
) STRICT;

CREATE INDEX payment_outcomes_recorded ON payment_outcomes (recorded_at);
