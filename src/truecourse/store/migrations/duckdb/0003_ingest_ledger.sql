-- 0003: keys of the ingest-log messages already committed (Store.write_once): a message
-- redelivered after a crash is skipped, not stored twice. Pruned by age (Store.prune_ledger).

CREATE TABLE ingest_ledger (
    key VARCHAR PRIMARY KEY,
    committed_at TIMESTAMPTZ NOT NULL
);
