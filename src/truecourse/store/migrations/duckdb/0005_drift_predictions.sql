-- 0005: drift (truecourse.drift): predictions of classic ML models, uploaded baselines,
-- stored drift reports and per-window sketches. JSON is text, as elsewhere.

CREATE TABLE predictions (
    id VARCHAR PRIMARY KEY,
    time TIMESTAMPTZ,
    model VARCHAR,
    version VARCHAR,
    env VARCHAR,
    features VARCHAR,
    prediction VARCHAR,
    prediction_value DOUBLE,
    score DOUBLE
);

CREATE TABLE drift_baselines (
    id VARCHAR PRIMARY KEY,
    model VARCHAR,
    name VARCHAR,
    created_at TIMESTAMPTZ,
    format VARCHAR,
    rows BIGINT,
    columns VARCHAR,
    data BLOB
);

CREATE TABLE drift_reports (
    id VARCHAR PRIMARY KEY,
    model VARCHAR,
    created_at TIMESTAMPTZ,
    status VARCHAR,
    drift_share DOUBLE,
    report VARCHAR
);

CREATE TABLE drift_sketches (
    model VARCHAR,
    window_start TIMESTAMPTZ,
    window_end TIMESTAMPTZ,
    "column" VARCHAR,
    kind VARCHAR,
    rows BIGINT,
    sketch BLOB,
    PRIMARY KEY (model, window_start, "column")
);
