"""The trend pipeline's settings: PipelineConfig lives in streams/pipeline.py, where the
settings (streams.config) build it from the PIPELINE_* variables."""

from __future__ import annotations

from streams.pipeline import PipelineConfig

__all__ = ["PipelineConfig"]
