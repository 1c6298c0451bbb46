"""``python -m asc_nb.sandbox``: prints one JSON line, writes the key, serves, advances, stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from .helpers import sign


def test_cli_prints_credentials_and_serves(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asc_nb.sandbox",
            "--port",
            "0",
            "--write-credentials",
            str(creds),
            "--seed",
            "4",
            "--apps",
            "2",
            "--history-days",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        info = json.loads(line)
        assert set(info) == {"base_url", "download_base_url", "key_id", "issuer_id", "key_path"}
        key_path = Path(info["key_path"])
        assert key_path.name == f"AuthKey_{info['key_id']}.p8" and key_path.parent == creds.resolve()
        pem = key_path.read_text()
        assert pem.startswith("-----BEGIN PRIVATE KEY-----")
        assert oct(key_path.stat().st_mode & 0o777) == "0o600"
        token = sign({"key_id": info["key_id"], "issuer_id": info["issuer_id"], "private_key_pem": pem})
        with httpx.Client(
            base_url=info["base_url"], headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as c:
            apps = c.get("/v1/apps").json()["data"]
            assert len(apps) == 2
            req = c.get(f"/v1/apps/{apps[0]['id']}/analyticsReportRequests").json()["data"][0]["id"]
            before = c.get(f"/v1/analyticsReports/r10-{req}/instances").json()["meta"]["paging"]["total"]
            r = c.post("/_sandbox/advance", json={"days": 2})
            assert r.json() == {"now": "2026-03-04T09:00:00Z"}
            inst = c.get(f"/v1/analyticsReports/r10-{req}/instances").json()
            assert inst["meta"]["paging"]["total"] > before
            seg = c.get(f"/v1/analyticsReportInstances/{inst['data'][-1]['id']}/segments").json()["data"][0]
        url = seg["attributes"]["url"]
        assert url.startswith(info["download_base_url"] + "/")
        assert httpx.get(url, timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
