"""models.ENDPOINTS (the table the sandbox routes from) agrees with Apple's OpenAPI document."""

from __future__ import annotations

from asc_nb import models

from .helpers import SPEC

#: /v1/apps carries ~57 parameters about unrelated resources; the table keeps only these.
APPS_SUBSET = {"/v1/apps", "/v1/apps/{id}"}


def _spec_ops() -> dict[tuple[str, str], dict]:
    return {(m.upper(), p): op for p, ops in SPEC["paths"].items() for m, op in ops.items() if m != "parameters"}


def test_every_spec_operation_has_exactly_one_row() -> None:
    rows = {(e.method, e.path) for e in models.ENDPOINTS}
    assert rows == set(_spec_ops())
    assert len(rows) == len(models.ENDPOINTS) == 16


def test_parameters_enums_and_maxima_match_the_spec() -> None:
    ops = _spec_ops()
    for ep in models.ENDPOINTS:
        params = {p["name"]: p for p in ops[(ep.method, ep.path)].get("parameters", []) if "name" in p}
        table = set(ep.query_parameters) - {"cursor"}
        if ep.path in APPS_SUBSET:
            assert table <= set(params), ep.name
        else:
            assert table == set(params), ep.name
        for name in table:
            schema = params[name]["schema"]
            if name == "limit" or name.startswith("limit["):
                maximum = ep.max_limit if name == "limit" else ep.include_limits[name[6:-1]]
                assert schema["maximum"] == maximum, name
                continue
            enum = schema.get("items", schema).get("enum")
            if name.startswith("filter["):
                allowed = ep.filters[name[7:-1]]
                assert (tuple(enum) if enum else None) == (tuple(str(v) for v in allowed) if allowed else None) or \
                    set(enum or ()) == {str(v) for v in allowed or ()}, name
            elif name.startswith("fields["):
                declared = set(ep.fields[name[7:-1]])
                if name == "fields[apps]":
                    # the table also knows the two 4.5.1 additions (SOURCE.md)
                    assert set(enum) <= declared and declared - set(enum) <= {"performanceOverviews", "assetLibrary"}
                else:
                    assert set(enum) == declared, name
            elif name == "include":
                assert set(enum) >= set(ep.include), name
            elif name == "sort":
                assert set(enum) == set(ep.sort)


def test_resource_attributes_exist_in_the_spec_schemas() -> None:
    schemas = SPEC["components"]["schemas"]
    names = {"apps": "App", "analyticsReportRequests": "AnalyticsReportRequest", "analyticsReports": "AnalyticsReport",
             "analyticsReportInstances": "AnalyticsReportInstance", "analyticsReportSegments": "AnalyticsReportSegment"}
    for type_, res in models.RESOURCES.items():
        props = schemas[names[type_]]["properties"]
        assert props["type"]["enum"] == [type_]
        assert set(res.attributes) <= set(props["attributes"]["properties"])
        assert set(res.relationships) <= set(props.get("relationships", {}).get("properties", {}))
        for attr, enum in res.enums.items():
            assert set(props["attributes"]["properties"][attr]["enum"]) == {m.value for m in enum}
