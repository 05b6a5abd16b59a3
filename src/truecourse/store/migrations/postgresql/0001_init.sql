-- 0001: the telemetry tables. Columns mirror truecourse.model.columns, in order (a test checks),
-- the same as DuckDB's 0001 + 0002. JSON columns are text holding JSON text (see Column.json):
-- jsonb would re-parse every value on COPY, and the decoder already produced valid JSON.

CREATE TABLE spans (
    trace_id text,
    span_id text,
    parent_span_id text,
    name text,
    kind text,
    start_time timestamptz,
    start_unix_nano bigint,
    duration_ms double precision,
    status_code text,
    status_message text,
    service text,
    env text,
    version text,
    team text,
    owner text,
    scope_name text,
    operation text,
    provider text,
    model text,
    input_tokens bigint,
    output_tokens bigint,
    total_tokens bigint,
    cache_read_tokens bigint,
    cache_creation_tokens bigint,
    reasoning_tokens bigint,
    cost_usd double precision,
    prompt_version text,
    index_version text,
    tool_name text,
    tool_ok boolean,
    refused boolean,
    finish_reasons text,
    conversation_id text,
    agent_name text,
    input_text text,
    output_text text,
    evaluations text,
    attributes text,
    resource text,
    events text,
    links text,
    retrieval_documents bigint,
    retrieval_source text,
    cost_source text
);

CREATE TABLE logs (
    time timestamptz,
    time_unix_nano bigint,
    observed_unix_nano bigint,
    severity_number integer,
    severity_text text,
    body text,
    trace_id text,
    span_id text,
    service text,
    env text,
    version text,
    team text,
    owner text,
    scope_name text,
    event_name text,
    count bigint,
    attributes text,
    resource text
);

CREATE TABLE metric_points (
    time timestamptz,
    time_unix_nano bigint,
    start_unix_nano bigint,
    service text,
    env text,
    version text,
    team text,
    owner text,
    scope_name text,
    name text,
    unit text,
    kind text,
    temporality text,
    is_monotonic boolean,
    value double precision,
    count bigint,
    sum double precision,
    min double precision,
    max double precision,
    bucket_counts bigint[],
    explicit_bounds double precision[],
    attributes text,
    resource text
);

CREATE TABLE events (
    id text PRIMARY KEY,
    time timestamptz,
    kind text,
    service text,
    env text,
    version text,
    trace_id text,
    span_id text,
    actor text,
    summary text,
    score double precision,
    payload text
);

-- The indexes the store's and the measure package's queries use: a trace, a time window
-- (optionally of one service), newest-first paging, feedback joined by trace.
CREATE INDEX spans_trace_id ON spans (trace_id);
CREATE INDEX spans_start_time ON spans (start_time);
CREATE INDEX spans_service_start_time ON spans (service, start_time);
CREATE INDEX spans_start_unix_nano ON spans (start_unix_nano);
CREATE INDEX logs_time_unix_nano ON logs (time_unix_nano);
CREATE INDEX logs_trace_id ON logs (trace_id);
CREATE INDEX metric_points_time_unix_nano ON metric_points (time_unix_nano);
CREATE INDEX metric_points_name_time ON metric_points (name, time_unix_nano);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_trace_id ON events (trace_id);

-- Long text (prompts, completions, attributes) is TOASTed; lz4 compresses it about twice as
-- fast as the default pglz (measured: a 20k-span COPY takes ~45% less time). Only where the
-- server was built with lz4 (PostgreSQL 14+).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression'
               AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE spans
            ALTER COLUMN input_text SET COMPRESSION lz4,
            ALTER COLUMN output_text SET COMPRESSION lz4,
            ALTER COLUMN evaluations SET COMPRESSION lz4,
            ALTER COLUMN attributes SET COMPRESSION lz4,
            ALTER COLUMN resource SET COMPRESSION lz4,
            ALTER COLUMN events SET COMPRESSION lz4,
            ALTER COLUMN links SET COMPRESSION lz4;
        ALTER TABLE logs
            ALTER COLUMN body SET COMPRESSION lz4,
            ALTER COLUMN attributes SET COMPRESSION lz4,
            ALTER COLUMN resource SET COMPRESSION lz4;
        ALTER TABLE metric_points
            ALTER COLUMN attributes SET COMPRESSION lz4,
            ALTER COLUMN resource SET COMPRESSION lz4;
        ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4;
    END IF;
END
$$;
