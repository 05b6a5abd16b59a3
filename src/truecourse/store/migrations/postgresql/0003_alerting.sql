-- 0003: alerting state (truecourse.alerting): alerts by fingerprint, silences, delivery log.
-- labels, annotations and matchers are JSON text.

CREATE TABLE alerts (
    fingerprint text PRIMARY KEY,
    labels text,
    annotations text,
    status text,
    starts_at timestamptz,
    ends_at timestamptz,
    last_seen timestamptz,
    received_at timestamptz,
    source text,
    value double precision,
    evidence text,
    acknowledged_by text,
    acknowledged_at timestamptz,
    suppressed_by text
);

CREATE TABLE silences (
    id text PRIMARY KEY,
    matchers text,
    starts_at timestamptz,
    ends_at timestamptz,
    created_by text,
    comment text
);

CREATE TABLE notification_log (
    time timestamptz,
    receiver text,
    integration text,
    group_key text,
    notification_status text,
    status text,
    attempts integer,
    error text
);
