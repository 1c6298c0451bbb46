"""ipywidgets panels over the client: request reports, manage requests, explore and download them.

``asc_nb.widgets.dashboard()`` opens all of it in one line. Each panel is thin: it holds widgets,
calls client methods, and exposes its state (``.result``, ``.frame``, ``.error``) and controls so
code and tests can drive it; errors show inside the panel, never as a traceback.
"""

from .dashboard import Dashboard, RateLimitMeter, dashboard
from .explorer import ReportsExplorer
from .overview import Overview
from .requests import RequestPanel, RequestsTable

__all__ = ["Dashboard", "Overview", "RateLimitMeter", "ReportsExplorer", "RequestPanel", "RequestsTable", "dashboard"]
