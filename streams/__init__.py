"""What the services share, in layers: messages, reliability, requests, servers, operations."""

__version__ = "0.1.0"
__all__ = ["__version__"]
