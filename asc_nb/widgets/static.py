"""A static rendering of a widget tree: what a reader without a kernel should see instead of bare controls.

Why: a notebook's widget output is a pointer into a live kernel (``widget-view+json``). Once the
kernel is gone — on GitHub, nbviewer, ``jupyter nbconvert --to html`` offline, an e-mailed file —
there is nothing behind it. :func:`static_html` walks the widget tree *as it is now* and writes plain
HTML: every HTML widget's markup (tables, headings, status lines), every Image as a data-URI
``<img>``, each control as "description: value", tabs as sections (the selected one open). No
script, no network: it reads anywhere. :func:`with_static` adds it to a widget's mime bundle as
``text/html``; ``tools/run_notebooks.py`` then keeps that rendering in the committed notebook.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import ipywidgets as w

#: the class every static rendering's outer element carries (tools/run_notebooks.py looks for it)
MARK = "asc-nb-static"


#: widget classes (``add_class``) of the live panel only: the "Show code" / "Export" row, the API-budget meter
SKIP_CLASSES = frozenset({"asc-nb-tools", "asc-nb-rate-meter"})  # the meter: live budget, not data


def _hidden(widget: Any) -> bool:
    if SKIP_CLASSES & set(getattr(widget, "_dom_classes", ()) or ()):
        return True
    layout = getattr(widget, "layout", None)
    return getattr(layout, "display", None) == "none" or getattr(layout, "visibility", None) == "hidden"


def _control(widget: Any) -> str:
    label = html.escape(str(getattr(widget, "description", "") or ""))
    if isinstance(widget, w.SelectMultiple):
        value = ", ".join(str(x) for x in (widget.label or ()))
    elif isinstance(widget, w.Dropdown | w.Select | w.RadioButtons | w.ToggleButtons):
        value = widget.label if widget.index is not None else ""
    elif isinstance(widget, w.Checkbox | w.ToggleButton):
        value = "yes" if widget.value else "no"
    elif isinstance(widget, w.IntProgress | w.FloatProgress):
        value = f"{widget.value} of {widget.max}"
    else:
        value = getattr(widget, "value", "")
    text = html.escape(str("" if value is None else value))
    if not label and not text:
        return ""
    sep = ": " if label else ""
    return (
        f'<span style="display: inline-block; margin: 2px 12px 2px 0; color: var(--jp-ui-font-color2, #555);">'
        f"{label}{sep}<b>{text}</b></span>"
    )


def static_html(widget: Any) -> str:
    """The widget and its children as static HTML (hidden parts left out; buttons say nothing and are left out)."""
    if widget is None or _hidden(widget):
        return ""
    if isinstance(widget, w.HTML | w.HTMLMath):
        return str(widget.value or "")
    if isinstance(widget, w.Label):
        return f"<div>{html.escape(str(widget.value or ''))}</div>"
    if isinstance(widget, w.Image):
        data = widget.value or b""
        if not data:
            return ""
        fmt = html.escape(str(widget.format or "png"))
        return f'<img alt="chart" style="max-width: 100%;" src="data:image/{fmt};base64,{base64.b64encode(data).decode()}">'
    if isinstance(widget, w.Button):
        return ""
    if isinstance(widget, w.Output):
        parts = []
        for out in widget.outputs:
            data = out.get("data", {}) if isinstance(out, dict) else {}
            if "text/html" in data:
                parts.append(str(data["text/html"]))
            elif "image/png" in data:
                parts.append(f'<img alt="output" src="data:image/png;base64,{data["image/png"]}">')
            elif "text/plain" in data or out.get("text"):
                parts.append(f"<pre>{html.escape(str(data.get('text/plain', out.get('text', ''))))}</pre>")
        return "".join(parts)
    if isinstance(widget, w.Tab | w.Accordion | w.Stack):
        parts = []
        for i, child in enumerate(widget.children):
            title = html.escape(
                str(widget.get_title(i) if hasattr(widget, "get_title") else i) or f"Tab {i + 1}"
            )
            open_ = " open" if i == widget.selected_index else ""
            parts.append(f"<details{open_}><summary><b>{title}</b></summary>{static_html(child)}</details>")
        return "".join(parts)
    if isinstance(widget, w.Box):
        row = isinstance(widget, w.HBox)
        style = "display: flex; flex-flow: row wrap; gap: 4px 12px; align-items: flex-start;" if row else ""
        inner = "".join(static_html(c) for c in widget.children)
        return f'<div style="{style}">{inner}</div>' if inner else ""
    if isinstance(widget, w.ValueWidget) or hasattr(widget, "description"):
        return _control(widget)
    return ""


def with_static(widget: Any, bundle: Any) -> Any:
    """``bundle`` (a widget's mime bundle) plus ``text/html``: the static rendering, marked :data:`MARK`."""
    if isinstance(bundle, tuple):  # (data, metadata)
        data, meta = bundle
    else:
        data, meta = bundle, None
    if not isinstance(data, dict):
        return bundle
    body = static_html(widget)
    data = {
        **data,
        "text/html": (
            f'<div class="{MARK}" style="border-left: 3px solid #9aa4b1; padding-left: 8px;">'
            f'<div style="font-size: 11px; color: #777;">Static snapshot of the panel '
            f"(run the notebook for the live one)</div>{body}</div>"
        ),
    }
    return data if meta is None else (data, meta)


class StaticRendering:
    """Mixin for a widget class: its mime bundle also carries :func:`static_html` as ``text/html``."""

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return with_static(self, super()._repr_mimebundle_(**kwargs))  # type: ignore[misc]
