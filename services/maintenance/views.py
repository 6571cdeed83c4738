"""The maintenance worker's web views: health, metrics and the dashboard."""

from services.maintenance.agents import monitor, resources
from services.maintenance.app import app
from services.maintenance.dashboard import DashboardApi, install_dashboard
from streams.servers.web import add_health_view, add_metrics_view

__all__ = ["dashboard", "health", "metrics"]

health = add_health_view(app)
metrics = add_metrics_view(app)
dashboard = DashboardApi(resources, monitor)
install_dashboard(app, dashboard)
