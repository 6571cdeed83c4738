"""Shared backbone of trend-stream: settings, topic catalog, typed records, clients."""

__version__ = "0.1.0"
__all__ = ["__version__"]
