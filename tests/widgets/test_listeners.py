"""A panel's listeners: one that raises is logged and never stops the others."""

from __future__ import annotations

import logging

from asc_nb.widgets._common import Listeners


def test_a_failing_listener_is_logged_and_the_others_still_run(caplog):
    heard: list[tuple] = []
    listeners = Listeners()
    listeners.add(lambda *a: heard.append(("first", a)))

    def broken(*_a):
        raise RuntimeError("display went away")

    listeners.add(broken)
    listeners.add(lambda *a: heard.append(("last", a)))
    with caplog.at_level(logging.ERROR, logger="asc_nb.widgets"):
        listeners("app", 1)
    assert heard == [("first", ("app", 1)), ("last", ("app", 1))]
    assert "display went away" in caplog.text and "failed" in caplog.text
