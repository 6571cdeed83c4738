"""The processor's web views."""

from typing import Any

from services.processor.agents import owner
from services.processor.app import app
from streams.servers.web import add_health_view, add_metrics_view

__all__ = ["health", "metrics"]


def _cluster_stage() -> dict[str, Any]:
    """The cluster stage as this worker holds it: its owner state, its rules, and advice when
    the state it restored was saved under other rules."""
    held = owner.ownership
    return {
        "cluster_stage": {
            "owner": owner.state.value,
            "rules": held.stage.rules if held is not None else None,
            "advice": owner.rules_advice,
        }
    }


health = add_health_view(app, details=_cluster_stage)
metrics = add_metrics_view(app)
