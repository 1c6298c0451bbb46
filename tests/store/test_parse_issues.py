"""A value that does not fit its column: the sync stores the rest, keeps the dtype, and records the value."""

from __future__ import annotations

import gzip

import asc_nb
from asc_nb import registry

from .conftest import small_world

SESSIONS = "App Sessions Standard"


def _publish_thousands(sb, inst_id: str) -> str:
    """Apple published a file whose Sessions cell reads '1,000' (its checksum is that file's: it downloads)."""
    header = [f.name for f in registry.get(SESSIONS).fields]
    inst = sb.world.instances[inst_id]
    blobs = list(sb.world.segment_bytes(inst))
    lines = gzip.decompress(blobs[0]).split(b"\n")
    cells = lines[1].split(b"\t")
    cells[header.index("Sessions")] = b"1,000"
    lines[1] = b"\t".join(cells)
    blobs[0] = gzip.compress(b"\n".join(lines), mtime=0)
    with sb.world.lock:
        sb.world._segment_cache[inst_id] = blobs
    return sb.world.uuid(f"segment/{inst_id}/0")


def test_a_misfit_value_is_kept_in_store_issues_and_never_changes_the_dtype(tmp_path):
    sb = small_world(apps=1)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path / "cache") as client:
        req = client.ensure_ongoing(client.apps().id[0])
        rep = client.reports(req.id, name=SESSIONS).iloc[0]
        inst_id = client.instances(rep.id, "DAILY").id.iloc[-1]
        bad = _publish_thousands(sb, inst_id)
        store = asc_nb.Store(tmp_path / "store")
        try:
            result = store.sync(client, reports=[SESSIONS], progress=False)
            assert result.status.tolist() == ["ok"]
            issues = store.issues()
            value = issues[issues.kind == "value"]
            assert value[["segment_id", "column", "value"]].values.tolist() == [[bad, "sessions", "1,000"]]
            assert value.line.tolist() == [2]
            frame = store.read(SESSIONS)
            assert str(frame["sessions"].dtype) == "Int64"
            assert frame.loc[frame.segment_id == bad, "sessions"].isna().sum() == 1
        finally:
            store.close()
