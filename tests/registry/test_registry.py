"""The report registry: every report Apple lists, with the fields and rules Apple documents."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

import asc_nb
from asc_nb import registry
from asc_nb.errors import ASCError, ReportNotFoundError
from asc_nb.models import Category, Granularity, snake

#: Apple's report list as the repository ships it (a copy of the spec's report-names.tsv): a test reads
#: nothing outside the repository, so it runs the same on any checkout
TSV = Path(asc_nb.__file__).parent / "sandbox" / "data" / "report_names.tsv"


def tsv_rows() -> list[tuple[str, str]]:
    with TSV.open(encoding="utf-8") as fh:
        return [(r["name"], r["category"]) for r in csv.DictReader(fh, delimiter="\t")]


def test_every_listed_report_has_an_entry_with_its_category_in_order() -> None:
    rows = tsv_rows()
    assert len(rows) == 129
    assert [(r.name, r.category.value) for r in registry.reports()] == rows


def test_every_entry_is_documented_or_says_why_not() -> None:
    for r in registry.reports():
        assert isinstance(r.category, Category)
        assert r.granularities and all(isinstance(g, Granularity) for g in r.granularities)
        assert r.complete_after_days >= 0
        if r.documented:
            assert r.fields, r.name
            assert r.source and r.source.startswith(
                "https://developer.apple.com/documentation/analytics-reports/"
            )
            assert any(f.kind == "date" for f in r.fields), r.name
        else:
            assert r.fields == () and len(r.notes) > 20, r.name


# Apple's field lists for the four reports whose layouts FACTS.md §10 records (Standard drops the "D" fields).
_SESSIONS = (
    "Date, App Name, App Apple Identifier, App Version, Device, Platform Version, Source Type, Source Info*, "
    "Campaign*, Page Type, Page Title*, App Download Date, Territory, Sessions, Total Session Duration, "
    "Unique Devices"
)
_DOWNLOADS = (
    "Date, App Name, App Apple Identifier, Download Type, App Version, Device, Platform Version, Source Type, "
    "Source Info*, Campaign*, Page Type, Page Title*, Pre-Order, Territory, Counts"
)
_DISCOVERY = (
    "Date, App Name, App Apple Identifier, Event, Page Type, Page Title*, Source Type, Source Info*, Campaign*, "
    "Engagement Type, Device, Platform Version, Territory, Counts, Unique Counts"
)


def _level(spec: str, detailed: bool) -> list[str]:
    items = [s.strip() for s in spec.split(",")]
    return [s.rstrip("*") for s in items if detailed or not s.endswith("*")]


KNOWN = {
    "App Sessions Standard": _level(_SESSIONS, False),
    "App Sessions Detailed": _level(_SESSIONS, True),
    "App Downloads Standard": _level(_DOWNLOADS, False),
    "App Downloads Detailed": _level(_DOWNLOADS, True),
    "App Store Discovery and Engagement Standard": _level(_DISCOVERY, False),
    "App Store Discovery and Engagement Detailed": _level(_DISCOVERY, True),
    "App Crashes": "Date, App Name, App Apple Identifier, App Version, Device, Platform Version, Crashes, Unique Devices".split(
        ", "
    ),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_layouts(name: str) -> None:
    r = registry.get(name)
    assert [f.name for f in r.fields] == KNOWN[name]
    assert r.documented


def test_known_types_and_timing() -> None:
    s = registry.get("App Sessions Detailed")
    assert s.field("Date").kind == s.field("App Download Date").kind == "date"
    assert s.field("App Apple Identifier").dtype == "Int64"
    assert s.field("Territory").dtype == "string"
    assert [f.name for f in s.measures] == ["Sessions", "Total Session Duration", "Unique Devices"]
    assert s.complete_after_days == 5 and registry.get("App Crashes").complete_after_days == 5
    assert registry.get("App Downloads Standard").complete_after_days == 2
    assert registry.get("App Store Discovery and Engagement Standard").complete_after_days == 3
    assert registry.get("App Downloads Standard").granularities == (Granularity.DAILY,)
    assert registry.get("App Downloads Detailed").granularities == tuple(Granularity)
    assert s.history_start == "2024-01-01"
    d = registry.get("App Downloads Detailed").field("download_type")
    assert d.values == ("First-time Download", "Redownload", "Manual update", "Auto-update", "Restore")
    assert "ISO 3166 alpha-2" in s.field("Territory").description


UNIQUE_WORDS = ("unique", "paying users", "distinct")


def test_every_unique_count_is_not_additive_and_every_other_count_is() -> None:
    seen = 0
    for r in registry.reports():
        for f in r.fields:
            if f.kind in ("count", "amount"):
                assert isinstance(f.additive, bool), (r.name, f.name)
                if any(w in f.name.lower() for w in UNIQUE_WORDS):
                    assert f.additive is False, (r.name, f.name)
                    seen += 1
            else:
                assert f.additive is None, (r.name, f.name)
    assert seen >= 4


def test_unique_devices_and_unique_counts_by_name() -> None:
    assert registry.get("App Crashes").field("Unique Devices").additive is False
    assert (
        registry.get("App Store Discovery and Engagement Detailed").field("unique_counts").additive is False
    )
    assert registry.get("App Crashes").field("Crashes").additive is True


@pytest.mark.parametrize(
    "kind, dtype",
    [
        ("date", "datetime64[ns]"),
        ("dimension", "string"),
        ("count", "Int64"),
        ("identifier", "Int64"),
        ("amount", "Float64"),
    ],
)
def test_dtype_mapping(kind: str, dtype: str) -> None:
    f = registry.Field("X", "x", kind, None, "d")  # type: ignore[arg-type]
    assert f.dtype == dtype
    pd.Series([], dtype=dtype)  # a dtype pandas knows


def test_every_field_column_is_snake_of_its_name() -> None:
    for r in registry.reports():
        for f in r.fields:
            assert f.column == snake(f.name)
            assert f.description and f.description[-1] in ".)", (r.name, f.name)


@pytest.mark.parametrize(
    "spelling",
    [
        "app sessions detailed",
        "  App Sessions   Detailed ",
        "APP SESSIONS DETAILED",
        "App\tSessions Detailed",
    ],
)
def test_lookup_ignores_case_and_spaces(spelling: str) -> None:
    assert registry.get(spelling).name == "App Sessions Detailed"


def test_unknown_name_raises_with_suggestions() -> None:
    with pytest.raises(ReportNotFoundError) as ei:
        registry.get("App Sesions Detailed")
    assert isinstance(ei.value, ASCError) and isinstance(ei.value, LookupError)
    assert "'App Sessions Detailed'" in str(ei.value)
    with pytest.raises(ReportNotFoundError, match="App Crashes Expanded"):
        asc_nb.describe_report("crashes")
    with pytest.raises(ReportNotFoundError, match="report_catalog"):
        registry.get("zzzz qqqq")


def test_field_lookup_by_name_or_column() -> None:
    r = registry.get("App Downloads Detailed")
    assert r.field("Pre-Order") is r.field("pre_order") is r.field(" pre-order ")
    with pytest.raises(KeyError, match="Download Type"):
        r.field("Sessions")


def test_report_catalog() -> None:
    cat = asc_nb.report_catalog()
    assert list(cat.columns) == ["name", "category", "fields", "granularities", "complete_after_days"]
    assert len(cat) == 129 and cat["name"].is_unique
    row = cat.set_index("name").loc["App Downloads Standard"]
    assert row["fields"] == 12 and row["granularities"] == "DAILY" and row["complete_after_days"] == 2
    assert (cat["fields"] == [len(r.fields) for r in registry.reports()]).all()


def test_describe_report_in_file_order_and_renders() -> None:
    df = asc_nb.describe_report("app crashes")
    assert list(df.columns) == ["field", "column", "dtype", "additive", "description"]
    assert list(df["field"]) == KNOWN["App Crashes"]
    assert list(df["column"])[:3] == ["date", "app_name", "app_apple_identifier"]
    assert df.set_index("field").loc["Crashes", "dtype"] == "Int64"
    assert df.set_index("field").loc["Unique Devices", "additive"] == False  # noqa: E712 - pandas boolean
    assert pd.isna(df.set_index("field").loc["Device", "additive"])
    html = df._repr_html_()
    assert "App Crashes" in html and "complete after 5 days" in html and "<table" in html
    assert "App Crashes" in repr(df)
    assert type(df.head()) is pd.DataFrame  # derived frames are plain
    withvalues = asc_nb.describe_report("App Downloads Standard", values=True)
    assert "Redownload" in withvalues.set_index("field").loc["Download Type", "values"]


def test_undocumented_report_says_so() -> None:
    for r in registry.reports():
        if not r.documented:
            df = asc_nb.describe_report(r.name)
            assert len(df) == 0 and "Apple documents no fields" in df.attrs["caption"]
            break


def test_data_file_is_package_data() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert "registry/reports.json" in pyproject
    data = json.loads((Path(registry.__file__).parent / "reports.json").read_text("utf-8"))
    assert data["format"] == 1 and len(data["reports"]) == 129


def _mini(**report: object) -> dict:
    base = {"name": "R", "category": "APP_USAGE", "fields": ["Date"], "source": "https://x"}
    base.update(report)
    return {"common_fields": {"Date": {"kind": "date", "description": "d."}}, "reports": [base]}


@pytest.mark.parametrize(
    "bad, message",
    [
        (_mini(fields=[{"name": "N", "kind": "number", "description": "d."}]), "kind"),
        (_mini(fields=[{"name": "N", "kind": "count"}]), "description"),
        (
            _mini(fields=[{"name": "N", "kind": "dimension", "additive": True, "description": "d."}]),
            "additive",
        ),
        (_mini(fields=[], documented=False), "notes"),
        (_mini(fields=["Date", {"name": "date", "kind": "date", "description": "d."}]), "same column"),
        (_mini(documented=False), "documented"),
    ],
)
def test_malformed_data_is_refused(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        registry._build(bad)


def test_registry_imports_only_models_and_errors() -> None:
    src = Path(registry.__file__).read_text()
    imports = {
        line.split()[1] for line in src.splitlines() if line.startswith(("from asc_nb", "import asc_nb"))
    }
    assert imports <= {"asc_nb.models", "asc_nb.errors"}


def test_levels_and_families() -> None:
    std, det = registry.get("App Sessions Standard"), registry.get("App Sessions Detailed")
    assert (std.level, det.level, registry.get("App Crashes").level) == ("Standard", "Detailed", None)
    assert registry.family("app sessions standard") == (det, std)
    assert registry.family("App Crashes") == (registry.get("App Crashes"),)
    paired = [r for r in registry.reports() if r.level]
    assert len(paired) == 16
    for r in paired:
        sibling = [x for x in registry.family(r.name) if x is not r]
        assert len(sibling) == 1 and {r.level, sibling[0].level} == {"Standard", "Detailed"}
        s, d = (r, sibling[0]) if r.level == "Standard" else (sibling[0], r)
        # Detailed = Standard + extra dimensions, same measures, same order otherwise
        assert [f.name for f in d.fields if f.name in s.columns or f.column in s.columns] == [
            f.name for f in s.fields
        ]
        assert [f.name for f in d.measures] == [f.name for f in s.measures]
        assert all(f.kind == "dimension" for f in d.fields if f.column not in s.columns)
