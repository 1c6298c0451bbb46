"""The catalog lists Apple's real report names, categories and documented columns (from the registry)."""

from __future__ import annotations

from pathlib import Path

import pytest

import asc_nb.sandbox.catalog as catalog_module
from asc_nb import registry
from asc_nb.models import Category, Granularity
from asc_nb.sandbox.catalog import GENERIC_COLUMNS, catalog, find_report

TSV = Path(catalog_module.__file__).parent / "data" / "report_names.tsv"
H = ["Date", "App Name", "App Apple Identifier"]


def _tsv_rows() -> list[tuple[str, str]]:
    lines = TSV.read_text("utf-8").splitlines()
    assert lines[0] == "name\tcategory"
    return [tuple(line.split("\t")) for line in lines[1:] if line.strip()]  # type: ignore[misc]


def test_catalog_is_the_tsv_in_order_with_stable_numbers():
    rows = _tsv_rows()
    specs = catalog()
    assert len(rows) == 129 == len(specs)
    assert [(s.name, s.category.value) for s in specs] == rows
    assert [s.number for s in specs] == list(range(1, len(specs) + 1))
    assert catalog() is specs  # computed once: numbers cannot shift between calls
    assert {s.category for s in specs} == set(Category)


def test_find_report_is_case_insensitive_and_helpful():
    assert find_report("app sessions standard").name == "App Sessions Standard"
    assert find_report(find_report("App Crashes")) is find_report("App Crashes")
    with pytest.raises(KeyError, match="did you mean 'App Sessions Standard'"):
        find_report("App Session Standard")
    with pytest.raises(KeyError, match="129 reports"):
        find_report("zzz")


EXPECTED = {
    "App Sessions Standard": H
    + [
        "App Version",
        "Device",
        "Platform Version",
        "Source Type",
        "Page Type",
        "App Download Date",
        "Territory",
        "Sessions",
        "Total Session Duration",  # FACTS.md §10 writes "(seconds)"; the registry follows Apple's page
        "Unique Devices",
    ],
    "App Sessions Detailed": H
    + [
        "App Version",
        "Device",
        "Platform Version",
        "Source Type",
        "Source Info",
        "Campaign",
        "Page Type",
        "Page Title",
        "App Download Date",
        "Territory",
        "Sessions",
        "Total Session Duration",  # FACTS.md §10 writes "(seconds)"; the registry follows Apple's page
        "Unique Devices",
    ],
    "App Crashes": H + ["App Version", "Device", "Platform Version", "Crashes", "Unique Devices"],
    # exactly the header of a real App Downloads Standard file (FACTS.md §6)
    "App Downloads Standard": H
    + [
        "Download Type",
        "App Version",
        "Device",
        "Platform Version",
        "Source Type",
        "Page Type",
        "Pre-Order",
        "Territory",
        "Counts",
    ],
    "App Downloads Detailed": H
    + [
        "Download Type",
        "App Version",
        "Device",
        "Platform Version",
        "Source Type",
        "Source Info",
        "Campaign",
        "Page Type",
        "Page Title",
        "Pre-Order",
        "Territory",
        "Counts",
    ],
    "App Store Discovery and Engagement Standard": H
    + [
        "Event",
        "Page Type",
        "Source Type",
        "Engagement Type",
        "Device",
        "Platform Version",
        "Territory",
        "Counts",
        "Unique Counts",
    ],
    "App Store Discovery and Engagement Detailed": H
    + [
        "Event",
        "Page Type",
        "Page Title",
        "Source Type",
        "Source Info",
        "Campaign",
        "Engagement Type",
        "Device",
        "Platform Version",
        "Territory",
        "Counts",
        "Unique Counts",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_documented_reports_have_apples_columns(name):
    spec = find_report(name)
    assert list(spec.column_names) == EXPECTED[name]
    assert spec.delimiter == "\t" and not spec.bom and spec.documented
    kinds = {c.name: c.kind for c in spec.columns}
    assert kinds["Date"] == "date" and kinds["App Apple Identifier"] == "identifier"
    assert all(kinds[m] == "count" for m in spec.measures)
    assert spec.measures and set(spec.measures).isdisjoint(spec.dimensions)
    uniques = [c.name for c in spec.columns if c.name.startswith("Unique")]
    assert all(spec.column(u).additive is False for u in uniques)
    assert bool(uniques) == ("Downloads" not in name)


@pytest.mark.parametrize("schema", registry.reports(), ids=lambda r: r.name)
def test_every_header_is_the_registry_fields_or_the_labelled_generic_layout(schema):
    spec = find_report(schema.name)
    assert spec.category is schema.category
    if schema.documented:
        assert spec.documented
        assert spec.column_names == tuple(f.name for f in schema.fields)
        assert [c.kind for c in spec.columns] == [f.kind for f in schema.fields]
        assert [c.values for c in spec.columns] == [tuple(f.values) for f in schema.fields]
    else:
        assert not spec.documented and spec.columns == GENERIC_COLUMNS
    assert spec.granularities == tuple(schema.granularities)


def test_standard_is_detailed_minus_detail_columns():
    for base in ("App Sessions", "App Downloads", "App Store Discovery and Engagement"):
        std, det = find_report(f"{base} Standard").column_names, find_report(f"{base} Detailed").column_names
        assert len(std) < len(det)
        assert [c for c in det if c in std] == list(std)
        assert set(det) - set(std) == {"Source Info", "Campaign", "Page Title"}


def test_every_report_is_tab_delimited_without_a_bom_as_apple_documents():
    spec = find_report("App Crashes Expanded")  # Apple's page documents no other delimiter or a BOM
    assert spec.category is Category.PERFORMANCE
    assert spec.delimiter == "\t" and not spec.bom
    assert [s.name for s in catalog() if s.delimiter != "\t" or s.bom] == []


def test_granularities_are_the_registrys_downloads_weekly_monthly_only_in_detailed():
    assert find_report("App Downloads Standard").granularities == (Granularity.DAILY,)
    assert find_report("App Downloads Detailed").granularities == tuple(Granularity)
    daily_only = [s for s in catalog() if s.granularities == (Granularity.DAILY,)]
    assert daily_only and all(registry.get(s.name).granularities == (Granularity.DAILY,) for s in daily_only)


def test_undocumented_reports_share_the_generic_columns():
    generic = [s for s in catalog() if not s.documented]
    assert generic and all(s.columns == GENERIC_COLUMNS for s in generic)
    assert all(not registry.get(s.name).documented for s in generic)
    assert GENERIC_COLUMNS[0].name == "Date" and GENERIC_COLUMNS[-1].additive is False
