"""`trendctl`: trend-stream's command line (requests, inspection, lag, dead letters, trends)."""

from streams.operations.cli import deadletters, inspection, operations, requests
from streams.operations.cli.app import cli, main

__all__ = ["cli", "deadletters", "inspection", "main", "operations", "requests"]
