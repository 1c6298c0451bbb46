"""The one lake writer and the Destination seam: fetch(to=) and the Store write the same files; superseded
vintages are kept and read back ``as_of``; a new destination is one class registered by name."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import asc_nb
from asc_nb.data.lake import PROVENANCE, VINTAGE_KEY, Vintage, WriteResult
from asc_nb.errors import ConfigError
from asc_nb.store.destination import Destination, open_destination, register_destination

from .conftest import canonical, small_world

REPORT = "App Sessions Standard"


def _schema_tail(path: Path) -> list[tuple[str, str]]:
    schema = pq.read_schema(path)
    return [(n, str(schema.field(n).type)) for n in schema.names[-len(PROVENANCE) :]]


def test_fetch_to_and_store_write_the_same_layout_and_provenance(make_client, store, tmp_path):
    sb = small_world(apps=1)
    client = make_client(sb)
    app_id = next(iter(sb.world.apps))
    store.sync(client, apps=[app_id], reports=[REPORT], progress=False)
    req = client.ensure_ongoing(app_id)
    out = client.fetch(req.id, REPORT, progress=False, to=tmp_path / "export")

    def files(root: Path) -> dict[str, list[Path]]:
        found: dict[str, list[Path]] = {}
        for f in sorted(root.rglob("*.parquet")):
            found.setdefault(f.parent.relative_to(root).as_posix(), []).append(f)
        return found

    lake, export = files(store.lake), files(out)
    assert lake and set(lake) == set(export)  # the same report=/granularity=/date= directories
    for directory, stored in lake.items():
        assert len(stored) == 1 and stored[0].name == f"{app_id}.parquet"
        for f in stored + export[directory]:
            # the same provenance columns, in the same order and types, and the vintage in the footer
            assert _schema_tail(f) == [
                ("app_id", "string"),
                ("processing_date", "timestamp[ns]"),
                ("instance_id", "string"),
                ("segment_id", "string"),
            ]
            assert VINTAGE_KEY in (pq.read_schema(f).metadata or {})
        # the same vintage wins on both paths, with the same rows
        lake_rows = pq.read_table(stored[0]).to_pandas()
        export_rows = pd.concat([pq.read_table(f).to_pandas() for f in export[directory]])
        assert set(lake_rows["instance_id"]) == set(export_rows["instance_id"])
        assert int(lake_rows["sessions"].sum()) == int(export_rows["sessions"].sum())


def test_fetch_to_keeps_the_latest_vintage_across_runs(make_client, tmp_path):
    sb = small_world(apps=1, inactivity_days=1000)
    client = make_client(sb)
    req = client.ensure_ongoing(next(iter(sb.world.apps)))
    root = tmp_path / "export"
    client.fetch(req.id, REPORT, progress=False, to=root)
    sb.advance(days=3)  # later instances restate the last days
    client.fetch(req.id, REPORT, progress=False, to=root)
    back = asc_nb.read_parquet(root)
    assert back.groupby("date")["processing_date"].nunique().max() == 1  # one vintage per date, never two
    fresh = client.fetch(req.id, REPORT, progress=False)
    last = fresh["date"].max()
    assert int(back.loc[back["date"] == last, "sessions"].sum()) == int(
        fresh.loc[fresh["date"] == last, "sessions"].sum()
    )


def test_superseded_vintages_are_kept_and_read_as_of(make_client, store):
    sb = small_world(apps=1, inactivity_days=1000)
    client = make_client(sb)
    store.sync(client, reports=[REPORT], progress=False)
    before = canonical(store.read(REPORT))
    day_one = store.reference_day
    sb.advance(days=3)
    store.sync(client, reports=[REPORT], progress=False)
    after = canonical(store.read(REPORT))
    assert not after.equals(before)  # restated

    vintages = store.vintages(REPORT)
    assert list(vintages.columns) == [
        "app_id",
        "date",
        "processing_date",
        "known_on",
        "instance_id",
        "rows",
        "current",
    ]
    assert (
        vintages["known_on"] == vintages["processing_date"]
    ).all()  # ONGOING: known on its processing date
    assert (~vintages["current"]).any()  # superseded vintages are kept
    assert (
        vintages.groupby(["app_id", "date"])["current"].sum().max() == 1
    )  # exactly one current per partition
    # the history is beside the lake: DuckDB over the lake still sees one vintage per date
    assert not any(p for p in store.lake.rglob("*") if "history" in p.parts)
    got = store.sql(
        "select date, count(distinct processing_date) n from app_sessions_standard_daily group by date"
    )
    assert got["n"].max() == 1

    then = canonical(store.read(REPORT, as_of=day_one))
    assert then.attrs["as_of"] == day_one.isoformat()
    pd.testing.assert_frame_equal(then[before.columns].reset_index(drop=True), before)
    pd.testing.assert_frame_equal(canonical(store.read(REPORT, as_of=store.reference_day)), after)
    with pytest.raises(ConfigError, match="after the store's reference day"):
        store.read(REPORT, as_of=store.reference_day + pd.Timedelta(days=1))


def test_a_late_older_vintage_is_recorded_not_current(tmp_path):
    lake = open_destination({"format": "parquet", "root": str(tmp_path / "s")})
    new = pa.table({"sessions": [10]})
    old = pa.table({"sessions": [8]})
    first = lake.write_partition("R", "DAILY", "2026-03-01", "1", new, ("2026-03-04", "i3"))
    late = lake.write_partition("R", "DAILY", "2026-03-01", "1", old, ("2026-03-02", "i1"))
    assert first == WriteResult(True, 1, None) and late == WriteResult(False, 1, None)
    assert lake.read("R", "DAILY").column("sessions").to_pylist() == [10]
    assert lake.read("R", "DAILY", as_of="2026-03-03").column("sessions").to_pylist() == [8]
    assert lake.read("R", "DAILY", as_of="2026-03-01").num_rows == 0
    v = lake.vintages("R", "DAILY")
    assert v["current"].tolist() == [False, True] and v["rows"].tolist() == [1, 1]
    newer = lake.write_partition(
        "R", "DAILY", "2026-03-01", "1", pa.table({"sessions": [11]}), ("2026-03-05", "i4")
    )
    assert newer.replaced == ("2026-03-04", "i3")
    assert lake.vintages("R", "DAILY")["current"].tolist() == [False, False, True]


def test_delta_format_needs_its_module_or_extra(tmp_path):
    import importlib.util

    if importlib.util.find_spec("asc_nb.store.delta") is None:  # written by the scale work; may be absent
        with pytest.raises(ConfigError, match="delta extra"):
            asc_nb.Store(tmp_path / "d", format="delta")
    else:
        assert asc_nb.Store(tmp_path / "d", format="delta").destination.format == "delta"
    with pytest.raises(ConfigError, match="unknown store format"):
        asc_nb.Store(tmp_path / "x", format="nope")


# --------------------------------------------------------------------------- a destination in one class


class MemoryDestination:
    """Everything a Store needs of a destination, in a dict: the proof that the seam is the protocol."""

    format = "memory"
    _held: dict[str, MemoryDestination] = {}

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.parts: dict[tuple[str, str, str, str], list[tuple[Vintage, pa.Table]]] = {}
        self.lock = threading.Lock()

    @classmethod
    def open(cls, spec: dict[str, str]) -> MemoryDestination:
        return cls._held.setdefault(spec["root"], cls(spec["root"]))

    def spec(self) -> dict[str, str]:
        return {"format": self.format, "root": str(self.root)}

    def write_partition(self, report, granularity, day, app_id, table, vintage) -> WriteResult:
        with self.lock:
            held = self.parts.setdefault((report, granularity, day, app_id), [])
            current = max((v for v, _ in held), default=None)
            held.append((vintage, table))
            if current is not None and current >= vintage:
                return WriteResult(False, table.num_rows, None)
            return WriteResult(True, table.num_rows, current)

    def stored(self):
        out: dict[tuple[str, str], dict[str, int]] = {}
        for r, g, d, _a in self.parts:
            out.setdefault((r, g), {}).setdefault(d, 0)
            out[(r, g)][d] += 1
        return out

    def read(self, report, granularity, *, apps=None, start=None, end=None, as_of=None) -> pa.Table:
        tables = []
        for (r, g, d, a), held in sorted(self.parts.items()):
            if (
                (r, g) != (report, granularity)
                or (apps and a not in apps)
                or (start and d < start)
                or (end and d > end)
            ):
                continue
            seen = [(v, t) for v, t in held if as_of is None or v[0] <= as_of]
            if seen:
                t = max(seen, key=lambda vt: vt[0])[1]
                tables.append(
                    t.add_column(1, "date", pa.array([pd.Timestamp(d)] * t.num_rows, pa.timestamp("ns")))
                )
        return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})

    def vintages(self, report, granularity):
        return pd.DataFrame()

    def reports(self):
        return sorted(self.stored())

    def duckdb_source(self, report, granularity):
        return "(select 1)"


def test_a_new_destination_is_one_class_registered_by_name(make_client, tmp_path):
    register_destination("memory", MemoryDestination.open)
    sb = small_world(apps=1)
    client = make_client(sb)
    memory = asc_nb.Store(tmp_path / "m", format="memory")
    assert isinstance(memory.destination, Destination)
    parquet = asc_nb.Store(tmp_path / "p")
    for s in (memory, parquet):
        result = s.sync(client, reports=[REPORT], progress=False)
        assert set(result["status"]) == {"ok"}, result
    assert memory.destination.parts and not any((tmp_path / "m" / "lake").rglob("*.parquet"))
    left, right = canonical(memory.read(REPORT)), canonical(parquet.read(REPORT))
    assert len(left) > 0
    pd.testing.assert_frame_equal(left, right)
    assert memory.coverage()["status"].eq("stored").sum() == parquet.coverage()["status"].eq("stored").sum()


def test_a_store_keeps_one_format(make_client, tmp_path):
    register_destination("memory", MemoryDestination.open)
    client = make_client(small_world(apps=1, history_days=2))
    asc_nb.Store(tmp_path / "s").sync(client, reports=[REPORT], progress=False)
    with pytest.raises(ConfigError, match="keeps its rows as 'parquet'"):
        asc_nb.Store(tmp_path / "s", format="memory").sync(client, reports=[REPORT], progress=False)
    # opened without a format, an existing store reads in the one it was synced in (never an empty other tree)
    asc_nb.Store(tmp_path / "m", format="memory").sync(client, reports=[REPORT], progress=False)
    assert asc_nb.Store(tmp_path / "m").destination.format == "memory"
    assert asc_nb.Store(tmp_path / "s").destination.format == "parquet"
    assert asc_nb.Store(tmp_path / "new").destination.format == "parquet"  # a new store: Parquet by default


def test_a_reader_always_sees_exactly_one_vintage_while_vintages_replace_each_other(tmp_path):
    lake = open_destination({"format": "parquet", "root": str(tmp_path / "s")})
    lake.write_partition("R", "DAILY", "2026-03-01", "1", pa.table({"n": [0]}), ("2026-03-02", "i000"))
    directory = next((tmp_path / "s" / "lake").rglob("date=2026-03-01"))
    done = threading.Event()

    def write() -> None:
        for k in range(1, 150):
            lake.write_partition(
                "R", "DAILY", "2026-03-01", "1", pa.table({"n": [k]}), ("2026-03-02", f"i{k:03d}")
            )
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen = []
    while not done.is_set():
        seen.append(sorted(p.name for p in directory.glob("*.parquet")))
    writer.join()
    assert seen and all(names == ["1.parquet"] for names in seen)
    assert lake.read("R", "DAILY").column("n").to_pylist() == [149]
    assert len(lake.vintages("R", "DAILY")) == 150
