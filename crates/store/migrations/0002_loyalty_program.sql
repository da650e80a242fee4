-- The loyalty program: each member's stamp cards and rewards, and the purchases that earn them.
-- What a purchase earns is decided by `flow::program`; these tables only keep the result. A
-- member's cards, rewards and purchases go when the member is deleted (ON DELETE CASCADE; the
-- store turns foreign keys on for every connection): loyaltyd keeps no personal data of a member
-- who left. The payment journal keeps the payments themselves, which name no member.

-- Counts the changes to a member's account (the member row, cards and rewards): an account is
-- saved only over the revision it was read at, so two changes computed from one reading cannot
-- both be saved.
ALTER TABLE members ADD COLUMN revision INTEGER NOT NULL DEFAULT 0 CHECK (revision >= 0);

-- A member's progress on one stamp card of the program.
CREATE TABLE stamp_cards (
    contact_id   TEXT    NOT NULL REFERENCES members (contact_id) ON DELETE CASCADE,
    -- The program's id for the card.
    card_id      TEXT    NOT NULL CHECK (length(card_id) BETWEEN 1 AND 32),
    title        TEXT    NOT NULL,
    -- Stamps towards the next reward: a full card starts over at 0.
    stamps       INTEGER NOT NULL CHECK (stamps >= 0),
    required     INTEGER NOT NULL CHECK (required >= 1),
    -- What a full card earns, as the app shows it.
    reward_title TEXT    NOT NULL,
    -- When the card last changed.
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (contact_id, card_id),
    CHECK (stamps < required)
) STRICT;

-- Coupons and bonus checks issued to members, in every state: kept after use so that a coupon
-- can never be redeemed twice.
CREATE TABLE rewards (
    -- `cpn-<purchase>.<card>` or `bchk-<purchase>.<card>`: what the till is given to redeem it.
    id               TEXT    PRIMARY KEY NOT NULL,
    contact_id       TEXT    NOT NULL REFERENCES members (contact_id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL CHECK (kind IN ('coupon', 'bonus_check')),
    title            TEXT    NOT NULL,
    description      TEXT,
    -- A bonus check's value; NULL for a coupon.
    amount_minor     INTEGER CHECK (amount_minor > 0),
    -- ISO 4217 code of `amount_minor`; NULL for a coupon.
    currency         TEXT    CHECK (length(currency) = 3),
    state            TEXT    NOT NULL CHECK (state IN ('active', 'redeemed', 'deleted')),
    issued_at        INTEGER NOT NULL,
    -- The last moment it can be redeemed.
    valid_until      INTEGER NOT NULL,
    -- When it was redeemed or deleted; NULL while active.
    finished_at      INTEGER,
    -- The purchase that earned it.
    source_reference TEXT    NOT NULL,
    CHECK ((kind = 'coupon' AND amount_minor IS NULL AND currency IS NULL)
        OR (kind = 'bonus_check' AND amount_minor IS NOT NULL AND currency IS NOT NULL)),
    CHECK ((state = 'active') = (finished_at IS NULL))
) STRICT;

CREATE INDEX rewards_by_member ON rewards (contact_id);

-- Captured payments by members, recorded with the capture and accrued afterwards: a purchase
-- stays pending until its accrual (the account saved, its events queued) is written, in one
-- transaction that also marks it accrued. So a crash between capture and accrual loses nothing,
-- and no purchase is accrued twice.
CREATE TABLE purchases (
    -- The payment's reference.
    reference    TEXT    PRIMARY KEY NOT NULL,
    contact_id   TEXT    NOT NULL REFERENCES members (contact_id) ON DELETE CASCADE,
    amount_minor INTEGER NOT NULL,
    -- ISO 4217 code.
    currency     TEXT    NOT NULL CHECK (length(currency) = 3),
    -- 'void': never to be accrued (the daemon gave up on it).
    state        TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'accrued', 'void')),
    -- When the payment was captured.
    created_at   INTEGER NOT NULL,
    -- When it was accrued or voided; NULL while pending.
    finished_at  INTEGER,
    CHECK ((state = 'pending') = (finished_at IS NULL))
) STRICT;

CREATE INDEX purchases_pending ON purchases (created_at) WHERE state = 'pending';
CREATE INDEX purchases_by_member ON purchases (contact_id);
