"""Views: the answers analysts ask for most, each a tidy DataFrame plus a chart, over a Client or a Store.

* :func:`funnel` — impressions → product page views → total downloads → sessions, step conversion;
* :func:`compare_periods` — this period vs the previous one or the same weekdays a year earlier;
* :func:`territories` — one count by territory, ranked, with shares;
* :func:`session_cohorts` — sessions of each App Download Date cohort on day N after download;
* :func:`compare_apps` — several apps side by side.

Each returns a :class:`View` (``.frame``, ``.chart()``/``.png()``/``.svg()``, ``.code``, ``.notes``,
``.as_of``, ``.provisional``). Every number comes from ``source.metrics(...)`` (the metrics layer's
public function): unique counts are never summed — refused, or with ``approx=True`` marked bounds.
"""

from __future__ import annotations

from ._core import View, complete_after, provisional_mask, reference_day
from .apps import compare_apps
from .cohorts import session_cohorts
from .funnel import STEPS, funnel
from .periods import compare_periods, prior_window
from .territory import territories

__all__ = [
    "View",
    "funnel",
    "compare_periods",
    "territories",
    "session_cohorts",
    "compare_apps",
    "STEPS",
    "prior_window",
    "reference_day",
    "complete_after",
    "provisional_mask",
]
