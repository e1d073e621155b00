"""Generate: synthesize deterministic posts shaped like the seed article, as JSONL with a manifest."""
