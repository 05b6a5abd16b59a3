-- 0002: columns the measure package reads: retrieval use and where a span's cost came from.

ALTER TABLE spans ADD COLUMN retrieval_documents BIGINT;
ALTER TABLE spans ADD COLUMN retrieval_source VARCHAR;
ALTER TABLE spans ADD COLUMN cost_source VARCHAR;
