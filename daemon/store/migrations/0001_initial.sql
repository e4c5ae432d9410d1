-- esd store, version 1: inbox, orders, items x accounts, transition history, MIS status history,
-- durable timers, push journal, import batches, imported records, alerts.
-- Times are UNIX seconds (REAL, UTC). JSON columns hold compact JSON text.

-- Every input, stored before anything acts on it. (source, dedupe_key) makes a duplicate a no-op.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    source       TEXT    NOT NULL,
    dedupe_key   TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    subject      TEXT,                 -- "site/order" for per-order events: the operator's trace
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'done', 'poisoned')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    traceback    TEXT,
    received_at  REAL    NOT NULL,
    processed_at REAL,
    UNIQUE (source, dedupe_key)
);
CREATE INDEX events_pending ON events (id) WHERE status = 'pending';
CREATE INDEX events_poisoned ON events (id) WHERE status = 'poisoned';
CREATE INDEX events_subject ON events (subject, id);

-- The last known snapshot of each storefront order (daemon.orders.model.Order as JSON).
CREATE TABLE orders (
    site         TEXT NOT NULL,
    order_number TEXT NOT NULL,
    snapshot     TEXT NOT NULL,
    event_id     INTEGER REFERENCES events (id),
    updated_at   REAL NOT NULL,
    PRIMARY KEY (site, order_number)
);

-- One row per order item x live service account: the order_item statechart's subjects.
CREATE TABLE items (
    id                INTEGER PRIMARY KEY,
    site              TEXT    NOT NULL,
    order_number      TEXT    NOT NULL,
    seq               INTEGER NOT NULL,
    account           TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    reasons           TEXT    NOT NULL DEFAULT '[]',
    external_id       TEXT,
    order_external_id TEXT,
    last_error        TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    first_failure_at  REAL,
    next_retry_at     REAL,
    pushed_at         REAL,
    mis_status        TEXT,
    tracking          TEXT    NOT NULL DEFAULT '[]',
    created_at        REAL    NOT NULL,
    updated_at        REAL    NOT NULL,
    UNIQUE (site, order_number, seq, account)
);
CREATE INDEX items_account_state ON items (account, state);
CREATE INDEX items_state ON items (state, site);

-- Every state change of every chart subject, written in the transaction of the event that caused it.
CREATE TABLE transitions (
    id         INTEGER PRIMARY KEY,
    chart      TEXT    NOT NULL,
    subject_id INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    trigger    TEXT    NOT NULL,
    event_id   INTEGER REFERENCES events (id),
    reason     TEXT,
    at         REAL    NOT NULL
);
CREATE INDEX transitions_subject ON transitions (chart, subject_id, id);

-- After `pushed`, MIS status and tracking are data with history, not states.
CREATE TABLE item_status_history (
    id       INTEGER PRIMARY KEY,
    item_id  INTEGER NOT NULL REFERENCES items (id),
    status   TEXT    NOT NULL,
    tracking TEXT    NOT NULL DEFAULT '[]',
    event_id INTEGER REFERENCES events (id),
    at       REAL    NOT NULL
);
CREATE INDEX item_status_history_item ON item_status_history (item_id, id);

-- Durable timers: retry backoff, scheduled polls and syncs. One per (kind, subject).
CREATE TABLE timers (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    due_at  REAL NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    UNIQUE (kind, subject)
);
CREATE INDEX timers_due ON timers (due_at);

-- Per (order, account) record of completed push steps, so a retry resumes at the failed step.
CREATE TABLE push_journal (
    site         TEXT NOT NULL,
    order_number TEXT NOT NULL,
    account      TEXT NOT NULL,
    step         TEXT NOT NULL,
    result       TEXT NOT NULL,
    recorded_at  REAL NOT NULL,
    PRIMARY KEY (site, order_number, account, step)
);

-- One import from a MIS (products, categories, prices, stock): the import_batch chart's subjects.
CREATE TABLE import_batches (
    id               INTEGER PRIMARY KEY,
    account          TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    pages            INTEGER NOT NULL DEFAULT 0,
    records          INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_failure_at REAL,
    next_retry_at    REAL,
    last_error       TEXT,
    created_at       REAL    NOT NULL,
    updated_at       REAL    NOT NULL
);
CREATE INDEX import_batches_state ON import_batches (account, state);

-- What the MIS supplied, keyed by account, kind and the MIS's own key.
CREATE TABLE imported_records (
    account    TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    batch_id   INTEGER NOT NULL REFERENCES import_batches (id),
    updated_at REAL    NOT NULL,
    PRIMARY KEY (account, kind, key)
);

-- Alerts for the operator (and, from the Pace issue on, an e-mail outbox): one per failure episode.
CREATE TABLE alerts (
    id         INTEGER PRIMARY KEY,
    account    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    message    TEXT NOT NULL,
    event_id   INTEGER REFERENCES events (id),
    created_at REAL NOT NULL
);
