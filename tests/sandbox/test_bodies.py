"""Create bodies of any JSON shape get a 4xx ErrorResponse with ``source.pointer`` — never a 5xx.

Run over both fronts (in-process transport and loopback HTTP). The named cases pin the code and
pointer of each kind of mistake; the properties feed arbitrary bytes, arbitrary JSON and mutations
of a valid document (a member replaced by any JSON value, removed, or joined by an extra one).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asc_nb.sandbox import Sandbox

from .conftest import Front
from .helpers import create_doc, first_app

PATH = "/v1/analyticsReportRequests"
APP = first_app(Sandbox(seed=0))  # the fixture's world has the same apps


def _valid() -> dict[str, Any]:
    return create_doc(APP)


def _with(path: tuple[str, ...], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    doc = _valid()
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


A = ("data", "attributes")
L = ("data", "relationships", "app", "data")

CASES = [
    # (body, status, code, pointer)
    (
        _with((*A, "accessType"), ["ONGOING"]),
        422,
        "ENTITY_ERROR.ATTRIBUTE.TYPE",
        "/data/attributes/accessType",
    ),
    (
        _with((*A, "accessType"), {"v": "ONGOING"}),
        422,
        "ENTITY_ERROR.ATTRIBUTE.TYPE",
        "/data/attributes/accessType",
    ),
    (_with((*A, "accessType"), 1), 422, "ENTITY_ERROR.ATTRIBUTE.TYPE", "/data/attributes/accessType"),
    (_with((*A, "accessType"), None), 422, "ENTITY_ERROR.ATTRIBUTE.TYPE", "/data/attributes/accessType"),
    (
        _with((*A, "accessType"), "ongoing"),
        422,
        "ENTITY_ERROR.ATTRIBUTE.INVALID",
        "/data/attributes/accessType",
    ),
    (_with((*A, "name"), "x"), 422, "ENTITY_ERROR.ATTRIBUTE.UNKNOWN", "/data/attributes/name"),
    (
        _with((*A, "accessType"), delete=True),
        422,
        "ENTITY_ERROR.ATTRIBUTE.REQUIRED",
        "/data/attributes/accessType",
    ),
    (_with(A, ["ONGOING"]), 422, "ENTITY_ERROR.INVALID", "/data/attributes"),
    (_with(("data",), [_valid()["data"]]), 422, "ENTITY_ERROR.INVALID", "/data"),
    (_with(("data",), "analyticsReportRequests"), 422, "ENTITY_ERROR.INVALID", "/data"),
    (_with(("data",), delete=True), 422, "ENTITY_ERROR.REQUIRED", "/data"),
    (_with(("data", "id"), "abc"), 422, "ENTITY_ERROR.UNKNOWN", "/data/id"),
    (_with(("meta",), {}), 422, "ENTITY_ERROR.UNKNOWN", "/meta"),
    (_with(("data", "type"), ["analyticsReportRequests"]), 422, "ENTITY_ERROR.INVALID", "/data/type"),
    (_with(("data", "type"), "apps"), 422, "ENTITY_ERROR.TYPE.INVALID", "/data/type"),
    (_with(("data", "relationships"), []), 422, "ENTITY_ERROR.INVALID", "/data/relationships"),
    (
        _with(("data", "relationships", "apps"), {}),
        422,
        "ENTITY_ERROR.RELATIONSHIP.UNKNOWN",
        "/data/relationships/apps",
    ),
    (
        _with(("data", "relationships", "app"), delete=True),
        422,
        "ENTITY_ERROR.RELATIONSHIP.REQUIRED",
        "/data/relationships/app",
    ),
    (
        _with(L, [{"type": "apps", "id": APP}]),
        422,
        "ENTITY_ERROR.RELATIONSHIP.INVALID",
        "/data/relationships/app/data",
    ),  # a to-many linkage where a to-one belongs
    (_with(L, None), 422, "ENTITY_ERROR.RELATIONSHIP.INVALID", "/data/relationships/app/data"),
    (
        _with((*L, "id"), int(APP)),
        422,
        "ENTITY_ERROR.RELATIONSHIP.INVALID",
        "/data/relationships/app/data/id",
    ),
    (_with((*L, "id"), [APP]), 422, "ENTITY_ERROR.RELATIONSHIP.INVALID", "/data/relationships/app/data/id"),
    (
        _with((*L, "id"), delete=True),
        422,
        "ENTITY_ERROR.RELATIONSHIP.REQUIRED",
        "/data/relationships/app/data/id",
    ),
    (
        _with((*L, "type"), "analyticsReportRequests"),
        422,
        "ENTITY_ERROR.RELATIONSHIP.INVALID",
        "/data/relationships/app/data/type",
    ),
    (_with((*L, "meta"), {}), 422, "ENTITY_ERROR.RELATIONSHIP.INVALID", "/data/relationships/app/data/meta"),
    (
        _with((*L, "a/b~c"), 1),
        422,
        "ENTITY_ERROR.RELATIONSHIP.INVALID",
        "/data/relationships/app/data/a~1b~0c",
    ),  # RFC 6901 escaping
    ([_valid()], 422, "ENTITY_UNPROCESSABLE", ""),
    ("ONGOING", 422, "ENTITY_UNPROCESSABLE", ""),
    (None, 422, "ENTITY_UNPROCESSABLE", ""),
    (b'{"data": NaN}', 422, "ENTITY_UNPROCESSABLE", ""),
    (b'{"data": {}, "data": {}}', 422, "ENTITY_UNPROCESSABLE", ""),
    (b"[" * 100_000 + b"]" * 100_000, 422, "ENTITY_UNPROCESSABLE", ""),
    (b"\xff\xfe{}", 422, "ENTITY_UNPROCESSABLE", ""),
    (b"", 422, "ENTITY_UNPROCESSABLE", ""),
]


def _body(doc: Any) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode()


@pytest.mark.parametrize(
    "doc, status, code, pointer", CASES, ids=[f"{i}:{c[2]}:{c[3]}" for i, c in enumerate(CASES)]
)
def test_each_mistake_is_named_by_code_and_pointer(
    front: Front, doc: Any, status: int, code: str, pointer: str
):
    r = front.api.post(PATH, content=_body(doc))
    assert r.status_code == status, r.text
    err = r.json()["errors"][0]
    assert (err["code"], err["status"], err["source"]) == (code, str(status), {"pointer": pointer})
    assert err["detail"]
    assert not front.sb.world.requests


def test_entity_errors_can_answer_409_like_apple(front: Front) -> None:
    """``router.entity_error_status = 409``: ENTITY_ERROR.* as Apple's live API answers; 422 stays 422."""
    front.sb.router.entity_error_status = 409
    r = front.api.post(PATH, _with((*A, "name"), "x"))
    assert r.status_code == 409 and r.json()["errors"][0]["code"] == "ENTITY_ERROR.ATTRIBUTE.UNKNOWN"
    r = front.api.post(PATH, content=b"{")
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "ENTITY_UNPROCESSABLE"


# --------------------------------------------------------------------------- properties

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid create document with one member replaced, removed, or joined by a new sibling."""
    doc = _valid()
    path = draw(st.sampled_from(_paths(doc)))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(JSON)
    elif action == "delete":
        del parent[path[-1]]
    else:
        parent[draw(st.text(max_size=8))] = draw(JSON)
    return doc


def _check(front: Front, body: bytes) -> None:
    r = front.api.post(PATH, content=body)  # the response hook validates the ErrorResponse schema
    if r.status_code == 201:  # the mutation happened to leave a valid document (e.g. same value back)
        front.api.delete(f"{PATH}/{r.json()['data']['id']}")
        return
    assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
    err = r.json()["errors"][0]
    assert err["status"] == str(r.status_code)
    assert isinstance(err["source"]["pointer"], str), err
    pointer = err["source"]["pointer"]
    assert pointer == "" or pointer.startswith("/")
    assert not front.sb.internal_errors


PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(doc=mutated())
def test_mutated_documents_never_5xx(front: Front, doc: Any) -> None:
    _check(front, json.dumps(doc).encode())


@PROPERTY
@given(doc=JSON)
def test_arbitrary_json_never_5xx(front: Front, doc: Any) -> None:
    _check(front, json.dumps(doc).encode())


@PROPERTY
@given(raw=st.binary(max_size=64))
def test_arbitrary_bytes_never_5xx(front: Front, raw: bytes) -> None:
    _check(front, raw)


def test_pointer_names_a_member_of_the_document_or_its_missing_child(front: Front) -> None:
    """Every pointer resolves in the sent document, except its last step, which may be what is missing."""
    for doc, *_ in CASES:
        if isinstance(doc, (bytes, str)) or doc is None:
            continue
        pointer = front.api.post(PATH, content=_body(doc)).json()["errors"][0]["source"]["pointer"]
        node = copy.deepcopy(doc)
        steps = [s.replace("~1", "/").replace("~0", "~") for s in pointer.split("/")[1:]]
        for step in steps[:-1]:
            node = node[step]
        assert isinstance(node, dict) or not steps
