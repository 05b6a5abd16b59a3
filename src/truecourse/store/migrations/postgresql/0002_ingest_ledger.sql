-- 0002: keys of the ingest-log messages already committed (Store.write_once): a message
-- redelivered after a crash is skipped, not stored twice. Pruned by age (Store.prune_ledger).

CREATE TABLE ingest_ledger (
    key text PRIMARY KEY,
    committed_at timestamptz NOT NULL
);
CREATE INDEX ingest_ledger_committed_at ON ingest_ledger (committed_at);
