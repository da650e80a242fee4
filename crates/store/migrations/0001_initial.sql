-- loyaltyd's durable state. Every timestamp is Unix milliseconds (UTC), passed in by the daemon:
-- the store never reads a clock. Tables are STRICT so a wrong type is an error, not a surprise.

-- Facts about this database file. Exactly one row.
CREATE TABLE store_meta (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    -- Random per database: keys the permutation that turns member sequence numbers into opaque
    -- contact ids, so ids neither reveal the member count nor repeat across stores.
    member_id_salt  BLOB    NOT NULL CHECK (length(member_id_salt) = 8),
    -- The sequence number of the next generated contact id. Only ever grows.
    next_member_seq INTEGER NOT NULL CHECK (next_member_seq >= 0)
) STRICT;

INSERT INTO store_meta (id, member_id_salt, next_member_seq) VALUES (1, randomblob(8), 0);

-- The members directory (the embedded membership store).
CREATE TABLE members (
    contact_id   TEXT    PRIMARY KEY NOT NULL,
    -- International digits only (`4712345678`).
    msisdn       TEXT    NOT NULL UNIQUE,
    sub          TEXT,
    name         TEXT,
    email        TEXT,
    joined_at    INTEGER NOT NULL,
    bonus_points INTEGER NOT NULL DEFAULT 0,
    pref_email   INTEGER NOT NULL DEFAULT 0 CHECK (pref_email IN (0, 1)),
    pref_sms     INTEGER NOT NULL DEFAULT 0 CHECK (pref_sms IN (0, 1)),
    pref_postal  INTEGER NOT NULL DEFAULT 0 CHECK (pref_postal IN (0, 1))
) STRICT;

-- The payment journal: one row per payment, written before its create call is sent.
CREATE TABLE payments (
    reference       TEXT    PRIMARY KEY NOT NULL,
    idempotency_key TEXT    NOT NULL,
    amount_minor    INTEGER NOT NULL,
    -- ISO 4217 code.
    currency        TEXT    NOT NULL CHECK (length(currency) = 3),
    lane            TEXT    NOT NULL,
    state           TEXT    NOT NULL
        CHECK (state IN ('pending', 'authorized', 'captured', 'failed', 'cancelled')),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- Payments a restart must drive to a final state.
CREATE INDEX payments_open ON payments (created_at)
    WHERE state NOT IN ('captured', 'failed', 'cancelled');

-- The outbox: calls that must happen eventually and are safe to replay. AUTOINCREMENT so that an
-- id is never reused, even after `drop_item`: a relay holding an old id can never touch a new row.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Idempotency key or event id: one row per key, ever.
    key             TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    -- The sale the item belongs to: pending items of one reference drain in id order.
    reference       TEXT,
    -- Opaque to the store.
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    -- When the item was delivered or given up; NULL while pending.
    finished_at     INTEGER
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_pending_by_reference ON outbox (reference, id) WHERE state = 'pending';
