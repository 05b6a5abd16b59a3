-- 0004: alerting state (truecourse.alerting): alerts by fingerprint, silences, delivery log.
-- labels, annotations and matchers are JSON text.

CREATE TABLE alerts (
    fingerprint VARCHAR PRIMARY KEY,
    labels VARCHAR,
    annotations VARCHAR,
    status VARCHAR,
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    received_at TIMESTAMPTZ,
    source VARCHAR,
    value DOUBLE,
    evidence VARCHAR,
    acknowledged_by VARCHAR,
    acknowledged_at TIMESTAMPTZ,
    suppressed_by VARCHAR
);

CREATE TABLE silences (
    id VARCHAR PRIMARY KEY,
    matchers VARCHAR,
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    created_by VARCHAR,
    comment VARCHAR
);

CREATE TABLE notification_log (
    time TIMESTAMPTZ,
    receiver VARCHAR,
    integration VARCHAR,
    group_key VARCHAR,
    notification_status VARCHAR,
    status VARCHAR,
    attempts INTEGER,
    error VARCHAR
);
