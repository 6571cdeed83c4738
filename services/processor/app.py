"""The processor's Faust app (`faust -A services.processor worker`)."""

from streams.config import pipeline_config
from streams.servers.app import create_app

__all__ = ["PIPELINE", "app"]

app = create_app("processor")
PIPELINE = pipeline_config(app.settings)
"""The trend pipeline's configuration, from the PIPELINE_* variables (checked with the others
when the settings were read)."""
