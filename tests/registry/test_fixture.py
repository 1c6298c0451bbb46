"""The registry against field lists typed by hand from Apple's report pages (fixtures/apple_report_fields.txt).

The fixture is written independently of reports.json, so a registry edit that drops, renames, reorders or
re-types a documented field, or changes a report's granularities or completeness window, fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asc_nb import registry

FIXTURE = Path(__file__).parent / "fixtures" / "apple_report_fields.txt"

#: fixture tag -> (kinds allowed, additive)
TAGS = {
    "": ({"dimension"}, None),
    "date": ({"date"}, None),
    "id": ({"identifier"}, None),
    "count": ({"count"}, True),
    "unique": ({"count"}, False),
    "amount": ({"amount", "count"}, True),
    "rate": ({"amount"}, False),
    "irate": ({"count"}, False),  # an average Apple's page types integer (App Installs Performance)
}


def _parse() -> dict[str, dict]:
    reports: dict[str, dict] = {}
    current: dict | None = None
    for raw in FIXTURE.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("# ") or line == "#":
            continue
        if line.startswith("## "):
            name, _, slug = line[3:].rpartition(" | ")
            current = reports.setdefault(name.strip(), {"slug": slug.strip(), "fields": [], "facts": []})
        elif line.startswith("@ "):
            assert current is not None
            current["facts"].append(line[2:].strip())
        else:
            assert current is not None
            field, _, tag = line.partition(" : ")
            current["fields"].append((field.strip(), tag.strip()))
    return reports


REPORTS = _parse()


def test_fixture_covers_at_least_ten_reports() -> None:
    assert len(REPORTS) >= 10
    assert sum(len(r["fields"]) for r in REPORTS.values()) >= 150


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_fields_match_apple(name: str) -> None:
    expected = REPORTS[name]
    r = registry.get(name)
    assert r.documented
    assert r.source == f"https://developer.apple.com/documentation/analytics-reports/{expected['slug']}"
    assert [f.name for f in r.fields] == [f for f, _ in expected["fields"]]
    for (field, tag), f in zip(expected["fields"], r.fields, strict=True):
        kinds, additive = TAGS[tag]
        assert f.kind in kinds, (name, field, f.kind, tag)
        assert f.additive is additive, (name, field, f.additive, tag)


@pytest.mark.parametrize("name", sorted(n for n, r in REPORTS.items() if r["facts"]))
def test_page_facts(name: str) -> None:
    r = registry.get(name)
    for fact in REPORTS[name]["facts"]:
        verb, _, rest = fact.partition(" ")
        if verb == "granularities":
            assert [g.value for g in r.granularities] == rest.split()
        elif verb == "complete":
            assert r.complete_after_days == int(rest)
        elif verb == "values":
            field, _, values = rest.partition(" = ")
            assert r.field(field).values == tuple(v.strip() for v in values.split(" | "))
        else:  # pragma: no cover - a typo in the fixture
            pytest.fail(f"unknown fixture fact {fact!r}")
