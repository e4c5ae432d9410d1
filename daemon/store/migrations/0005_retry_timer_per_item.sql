-- esd store, version 5: one retry timer per retrying item, subject "site/order/account/seq"
-- (daemon.engine.item_retries.retry_subject). Before, one timer served an (order, account), and a
-- sibling item's success cancelled it, leaving an item in `retrying` for ever (issue 12).
-- Every retrying item gets its own timer, due at its next_retry_at (at once if unknown); the
-- old (order, account) timers, whose payload has no "seq", go.
INSERT INTO timers (kind, subject, due_at, payload)
SELECT 'retry',
       site || '/' || order_number || '/' || account || '/' || seq,
       COALESCE(next_retry_at, 0),
       json_object('account', account, 'order', order_number, 'seq', seq, 'site', site)
FROM items
WHERE state = 'retrying'
ON CONFLICT (kind, subject) DO NOTHING;
DELETE FROM timers WHERE kind = 'retry' AND json_extract(payload, '$.seq') IS NULL;
