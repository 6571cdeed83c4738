"""The processor's Faust app (`faust -A services.processor worker`)."""

from services.processor.pipeline.embed import check_backend
from streams.config import pipeline_config
from streams.exceptions import ConfigurationError
from streams.servers.app import create_app

__all__ = ["PIPELINE", "app"]

app = create_app("processor")
PIPELINE = pipeline_config(app.settings)
"""The trend pipeline's configuration, from the PIPELINE_* variables (checked with the others
when the settings were read)."""
try:
    check_backend(PIPELINE)  # a missing ONNX export stops the worker now, not at its first item
except ConfigurationError as problem:
    raise SystemExit(f"trend-stream: {problem}") from None
