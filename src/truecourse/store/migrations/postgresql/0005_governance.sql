-- 0005: governance (truecourse.governance): every record belongs to a project; hashed API
-- keys; the hash-chained audit log. Existing rows belong to the 'default' project.

ALTER TABLE spans ADD COLUMN project text DEFAULT 'default';
ALTER TABLE logs ADD COLUMN project text DEFAULT 'default';
ALTER TABLE metric_points ADD COLUMN project text DEFAULT 'default';
ALTER TABLE events ADD COLUMN project text DEFAULT 'default';
ALTER TABLE predictions ADD COLUMN project text DEFAULT 'default';

CREATE TABLE projects (
    name text PRIMARY KEY,
    created_at timestamptz,
    created_by text,
    description text
);
INSERT INTO projects VALUES ('default', now(), 'migration', 'the project of records sent without a key of another project');

CREATE TABLE api_keys (
    id text PRIMARY KEY,
    project text,
    scope text,
    name text,
    secret_sha256 text,
    rate_per_s double precision,
    burst double precision,
    created_at timestamptz,
    created_by text,
    revoked_at timestamptz,
    revoked_by text
);

CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    time timestamptz,
    actor text,
    action text,
    project text,
    target text,
    details text,
    prev_hash text,
    hash text
);
CREATE INDEX spans_project_start_time ON spans (project, start_time);
