"""The dashboard (trend-stream's Flower): HTML pages and a documented JSON API."""

from services.maintenance.dashboard.api import DashboardApi
from services.maintenance.dashboard.routes import install_dashboard

__all__ = ["DashboardApi", "install_dashboard"]
