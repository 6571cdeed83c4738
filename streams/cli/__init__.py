"""`trendctl`: trend-stream's command line (requests, inspection, lag, dead letters, trends)."""

from streams.cli import deadletters, inspection, operations, requests
from streams.cli.app import cli, main

__all__ = ["cli", "deadletters", "inspection", "main", "operations", "requests"]
