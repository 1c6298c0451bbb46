"""ipywidgets panels over the client: request reports, manage requests, explore and download them.

``asc_nb.widgets.dashboard()`` opens all of it in one line. Each panel is thin: it holds widgets,
calls client methods on its own worker thread (the kernel never freezes), and exposes its state
(``.result``, ``.frame``, ``.code``, ``.error``, ``.busy``) and controls so code and tests can drive
it (``panel.wait()`` after a click); errors show inside the panel, never as a traceback.
"""

from . import charts
from ._common import Panel
from .charts import chart_data, plot_chart
from .dashboard import Dashboard, RateLimitMeter, SandboxClock, dashboard
from .explorer import ReportsExplorer
from .overview import Overview
from .requests import RequestPanel, RequestsOverview, RequestsTable, requests_overview
from .store import StorePanel, coverage_heatmap

__all__ = [
    "Dashboard",
    "Overview",
    "Panel",
    "RateLimitMeter",
    "ReportsExplorer",
    "RequestPanel",
    "RequestsOverview",
    "RequestsTable",
    "SandboxClock",
    "StorePanel",
    "chart_data",
    "charts",
    "coverage_heatmap",
    "dashboard",
    "plot_chart",
    "requests_overview",
]
