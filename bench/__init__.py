"""Benchmarks of trend-stream against the Celery design and this machine's limits (not tests)."""
