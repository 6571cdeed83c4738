"""Surviving failures: retry topics, dead letters, invalid messages, time limits."""
