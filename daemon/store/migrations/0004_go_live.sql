-- esd store, version 4: going live beside the hosted Embedded Services.
-- activation_live: when each (site, account) activation first went live in this store; orders
-- placed before it are never pushed unless the operator asks (daemon.orders.go_live).
CREATE TABLE activation_live (
    site          TEXT NOT NULL,
    account       TEXT NOT NULL,
    first_live_at REAL NOT NULL,
    PRIMARY KEY (site, account)
);
-- adopted: the item carried a MisId esd did not write; it counts as pushed with that id and
-- its MisId is never overwritten. operator_asked: `esd push` overrode the cut-off.
ALTER TABLE items ADD COLUMN adopted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN operator_asked INTEGER NOT NULL DEFAULT 0;
