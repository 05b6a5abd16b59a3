"""The ingest log between ingest nodes and pipeline workers (NATS JetStream)."""
