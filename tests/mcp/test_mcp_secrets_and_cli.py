"""No key or token ever leaves the server (its environment holds the sandbox's credentials, as the sync's did),
stdout carries only JSON-RPC, and the command refuses what is not a store."""

from __future__ import annotations

import json
import subprocess
import sys

from mcp_harness import ROOT, server_env


def key_lines(pem: str) -> set[str]:
    return {ln for ln in pem.strip().splitlines() if ln and not ln.startswith("-----") and len(ln) > 16}


def test_no_response_and_nothing_on_stderr_holds_a_secret(mcp_server, world) -> None:
    app = world.apps[0]
    key_path = str(world.key_path)
    battery = [
        ("list_apps", {}),
        ("list_reports", {"catalog": True}),
        ("describe_report", {"name": "nope"}),
        ("list_metrics", {}),
        ("metrics", {"app_ids": [app], "metrics": ["first_time_downloads"], "by": ["territory"]}),
        ("metrics", {"app_ids": [app], "metrics": ["active_devices"], "by": []}),
        ("metrics", {"app_ids": [app], "metrics": ["x"]}),
        ("health", {}),
        ("sql", {"query": "select getenv('ASC_PRIVATE_KEY')"}),
        ("sql", {"query": f"select * from read_text('{key_path}')"}),
        ("sql", {"query": f"select * from '{key_path}'"}),
        ("sql", {"query": "select * from duckdb_settings()"}),
        ("sql", {"query": "select current_setting('home_directory') h"}),
        ("sql", {"query": "select * from duckdb_secrets()"}),
        ("sql", {"query": "select 1/0"}),
        ("sql", {"query": "select * from app_sessions_standard_daily limit 5"}),
    ]
    for name, args in battery:
        mcp_server.call(name, args)
    texts = "\n".join(mcp_server.texts) + "\n" + mcp_server.stderr()
    assert len(mcp_server.texts) > len(battery)  # every test of the session adds its responses here
    secrets = key_lines(world.sandbox.private_key_pem) | {world.sandbox.private_key_pem.strip()}
    assert len(secrets) > 2
    leaked = [s[:12] + "…" for s in secrets if s in texts]
    assert leaked == []
    assert "BEGIN PRIVATE KEY" not in texts and "Bearer " not in texts
    assert world.env["ASC_ISSUER_ID"] not in texts  # nothing echoes the environment (the key id is in the
    # key file's name, which the battery's own queries quote back, so it is not a witness here)
    assert "Traceback" not in mcp_server.stderr()


def test_the_server_answers_while_its_env_names_a_key_it_never_reads(world, tmp_path) -> None:
    # a raw JSON-RPC exchange: stdout must be JSON-RPC lines only, nothing printed around them
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "sql",
                "arguments": {"query": "select count(*) as n from app_downloads_standard_daily"},
            },
        },
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "asc_nb", "mcp", "--store", str(world.store_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(world),
        cwd=ROOT,
    )
    out = []
    try:
        for m in messages:
            proc.stdin.write(json.dumps(m) + "\n")
            proc.stdin.flush()
            if "id" in m:
                out.append(proc.stdout.readline())  # each request's answer before the next is sent
        proc.stdin.close()  # the client hangs up: the server ends
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stdout = "".join(out) + rest
    lines = [json.loads(ln) for ln in stdout.splitlines()]
    assert [m.get("id") for m in lines] == [1, 2], stdout
    answer = lines[1]["result"]
    assert not answer.get("isError") and answer["structuredContent"]["result"]["rows"][0][0] == len(
        world.store.read("App Downloads Standard")
    )
    assert proc.returncode == 0, err
    for secret in key_lines(world.sandbox.private_key_pem):
        assert secret not in stdout + err


def test_a_directory_that_is_no_store_is_refused(tmp_path, world) -> None:
    for target in (tmp_path / "missing", tmp_path):
        proc = subprocess.run(
            [sys.executable, "-m", "asc_nb", "mcp", "--store", str(target)],
            input="",
            capture_output=True,
            text=True,
            env=server_env(world),
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert "no asc-nb store" in proc.stderr and "lake/" in proc.stderr
    assert not (tmp_path / "missing").exists()  # never made
    assert list(tmp_path.iterdir()) == []


def test_help_names_the_subcommand() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "asc_nb", "mcp", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0 and "--store DIR" in proc.stdout and "read-only" in proc.stdout
