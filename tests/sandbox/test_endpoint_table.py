"""models.ENDPOINTS (the table the sandbox routes from) agrees with Apple's OpenAPI document."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from asc_nb import models

from .helpers import SPEC

ROOT = Path(__file__).resolve().parents[2]


def _spec_ops() -> dict[tuple[str, str], dict]:
    return {
        (m.upper(), p): op for p, ops in SPEC["paths"].items() for m, op in ops.items() if m != "parameters"
    }


def test_every_spec_operation_has_exactly_one_row() -> None:
    rows = {(e.method, e.path) for e in models.ENDPOINTS}
    assert rows == set(_spec_ops())
    assert len(rows) == len(models.ENDPOINTS) == 16


def test_parameters_enums_and_maxima_match_the_spec() -> None:
    ops = _spec_ops()
    for ep in models.ENDPOINTS:
        params = {p["name"]: p for p in ops[(ep.method, ep.path)].get("parameters", []) if "name" in p}
        table = set(ep.query_parameters) - {"cursor"}
        assert table == set(params), (ep.name, table ^ set(params))
        for name in table:
            schema = params[name]["schema"]
            if name == "limit" or name.startswith("limit["):
                maximum = ep.max_limit if name == "limit" else ep.include_limits[name[6:-1]]
                assert schema["maximum"] == maximum, name
                continue
            enum = schema.get("items", schema).get("enum")
            if name.startswith("filter["):
                allowed = ep.filters[name[7:-1]]
                assert (tuple(enum) if enum else None) == (
                    tuple(str(v) for v in allowed) if allowed else None
                ) or set(enum or ()) == {str(v) for v in allowed or ()}, name
            elif name.startswith("fields["):
                declared = set(ep.fields[name[7:-1]])
                if name == "fields[apps]":
                    # the table also knows the two 4.5.1 additions (SOURCE.md)
                    assert set(enum) <= declared and declared - set(enum) <= {
                        "performanceOverviews",
                        "assetLibrary",
                    }
                else:
                    assert set(enum) == declared, name
            elif name == "include":
                assert set(enum) == set(ep.include), name
            elif name == "sort":
                assert set(enum) == set(ep.sort)
            elif name.startswith("exists["):
                assert schema["type"] == "boolean" and name[7:-1] in ep.exists, name
            else:  # pragma: no cover - a parameter kind the table does not know
                raise AssertionError(f"{ep.name}: unchecked parameter {name}")


def test_resource_attributes_exist_in_the_spec_schemas() -> None:
    schemas = SPEC["components"]["schemas"]
    names = {
        "apps": "App",
        "analyticsReportRequests": "AnalyticsReportRequest",
        "analyticsReports": "AnalyticsReport",
        "analyticsReportInstances": "AnalyticsReportInstance",
        "analyticsReportSegments": "AnalyticsReportSegment",
    }
    for type_, res in models.RESOURCES.items():
        props = schemas[names[type_]]["properties"]
        assert props["type"]["enum"] == [type_]
        assert set(res.attributes) <= set(props["attributes"]["properties"])
        assert set(res.relationships) <= set(props.get("relationships", {}).get("properties", {}))
        for attr, enum in res.enums.items():
            assert set(props["attributes"]["properties"][attr]["enum"]) == {m.value for m in enum}


def test_spec_parameters_file_is_what_the_spec_says() -> None:
    """asc_nb/spec_parameters.json (read by models) is exactly tools/spec_parameters.py's extraction."""
    tool = importlib.util.spec_from_file_location("spec_parameters", ROOT / "tools" / "spec_parameters.py")
    module = importlib.util.module_from_spec(tool)
    tool.loader.exec_module(module)
    shipped = json.loads((ROOT / "asc_nb" / "spec_parameters.json").read_text())
    assert shipped == module.extract(SPEC), "regenerate: python tools/spec_parameters.py"
    assert shipped["operations"] == models.SPEC_PARAMETERS


def test_apps_rows_accept_every_declared_parameter() -> None:
    """Spot checks that the derived rows are the spec's, not a subset (57 and 44 parameters)."""
    apps, app = models.endpoint("apps"), models.endpoint("app")
    assert len(apps.query_parameters - {"cursor"}) == 57 and len(app.query_parameters) == 44
    assert {"builds", "appInfos", "ciProduct"} <= set(apps.include) and len(apps.include) == 25
    assert apps.include_limits["appEvents"] == 50 and "IOS" in apps.filters["appStoreVersions.platform"]
    assert apps.exists == ("gameCenterEnabledVersions",) and app.max_limit is None
