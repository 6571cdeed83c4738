"""The processor's Faust app (`faust -A services.processor worker`)."""

from typing import Any

from mode.types.signals import BaseSignalT

from services.processor.pipeline.embed import check_backend
from streams.config import pipeline_config
from streams.exceptions import ConfigurationError
from streams.servers.app import create_app

__all__ = ["PIPELINE", "app", "check_embedding"]

app = create_app("processor")
PIPELINE = pipeline_config(app.settings)
"""The trend pipeline's configuration, from the PIPELINE_* variables (checked with the others
when the settings were read)."""


@app.on_worker_init.connect
def check_embedding(sender: Any, /, *_: Any, signal: BaseSignalT[Any], **__: Any) -> None:
    """The embedding backend checked as `faust -A services.processor <command>` starts, before
    any service: a missing ONNX export (or backend package) stops a worker at once, not at its
    first item (importing the app, as the export command itself does, checks nothing)."""
    try:
        check_backend(PIPELINE)
    except ConfigurationError as problem:
        raise SystemExit(f"trend-stream: {problem}") from None
