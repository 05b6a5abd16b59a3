-- 0004: drift (truecourse.drift): predictions of classic ML models, uploaded baselines,
-- stored drift reports and per-window sketches. JSON is text, as elsewhere.

CREATE TABLE predictions (
    id text PRIMARY KEY,
    time timestamptz,
    model text,
    version text,
    env text,
    features text,
    prediction text,
    prediction_value double precision,
    score double precision
);
CREATE INDEX predictions_model_time ON predictions (model, time);

CREATE TABLE drift_baselines (
    id text PRIMARY KEY,
    model text,
    name text,
    created_at timestamptz,
    format text,
    rows bigint,
    columns text,
    data bytea
);

CREATE TABLE drift_reports (
    id text PRIMARY KEY,
    model text,
    created_at timestamptz,
    status text,
    drift_share double precision,
    report text
);
CREATE INDEX drift_reports_model_created ON drift_reports (model, created_at);

CREATE TABLE drift_sketches (
    model text,
    window_start timestamptz,
    window_end timestamptz,
    "column" text,
    kind text,
    rows bigint,
    sketch bytea,
    PRIMARY KEY (model, window_start, "column")
);
