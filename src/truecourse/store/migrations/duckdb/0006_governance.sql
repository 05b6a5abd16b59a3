-- 0006: governance (truecourse.governance): every record belongs to a project; hashed API
-- keys; the hash-chained audit log. Existing rows belong to the 'default' project.

ALTER TABLE spans ADD COLUMN project VARCHAR DEFAULT 'default';
ALTER TABLE logs ADD COLUMN project VARCHAR DEFAULT 'default';
ALTER TABLE metric_points ADD COLUMN project VARCHAR DEFAULT 'default';
ALTER TABLE events ADD COLUMN project VARCHAR DEFAULT 'default';
ALTER TABLE predictions ADD COLUMN project VARCHAR DEFAULT 'default';

CREATE TABLE projects (
    name VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ,
    created_by VARCHAR,
    description VARCHAR
);
INSERT INTO projects VALUES ('default', now(), 'migration', 'the project of records sent without a key of another project');

CREATE TABLE api_keys (
    id VARCHAR PRIMARY KEY,
    project VARCHAR,
    scope VARCHAR,
    name VARCHAR,
    secret_sha256 VARCHAR,
    rate_per_s DOUBLE,
    burst DOUBLE,
    created_at TIMESTAMPTZ,
    created_by VARCHAR,
    revoked_at TIMESTAMPTZ,
    revoked_by VARCHAR
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    time TIMESTAMPTZ,
    actor VARCHAR,
    action VARCHAR,
    project VARCHAR,
    target VARCHAR,
    details VARCHAR,
    prev_hash VARCHAR,
    hash VARCHAR
);
