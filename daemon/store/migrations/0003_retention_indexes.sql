-- esd store, version 3: indexes for retention pruning (daemon/store/retention.py).
-- A processed event may be deleted only when nothing refers to it; these make each
-- "does anything refer to it" an index lookup instead of a table scan.
CREATE INDEX transitions_event ON transitions (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX transitions_at ON transitions (at);
CREATE INDEX item_status_history_event ON item_status_history (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX alerts_event ON alerts (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX orders_event ON orders (event_id);
CREATE INDEX events_done_received ON events (received_at) WHERE status = 'done';
