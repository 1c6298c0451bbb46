"""asc_nb.connect(): explicit credentials, a given sandbox, env vars, or the announced embedded sandbox."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import asc_nb
import asc_nb.connection
from asc_nb.auth import Credentials
from asc_nb.errors import ConfigError
from asc_nb.sandbox import Sandbox


@pytest.fixture
def fresh_notice(monkeypatch):
    monkeypatch.setattr(asc_nb.connection, "_announced", False)


def test_no_credentials_means_announced_sandbox(fresh_notice, capsys, tmp_path):
    with asc_nb.connect(environ={}, cache_dir=tmp_path) as client:
        assert isinstance(client.sandbox, Sandbox)
        assert client.base_url == client.sandbox.api_base_url
        assert len(client.apps()) == 3
    err = capsys.readouterr().err
    assert err == asc_nb.SANDBOX_NOTICE + "\n"
    assert "sandbox mode" in err and "BEGIN" not in err
    with asc_nb.connect(environ={}, cache_dir=tmp_path):
        pass
    assert capsys.readouterr().err == ""  # once per process


def test_given_sandbox_is_used_quietly(fresh_notice, capsys, tmp_path):
    sb = Sandbox(seed=7, history_days=30)
    with asc_nb.connect(sandbox=sb, cache_dir=tmp_path) as client:
        assert client.sandbox is sb
        client.sandbox.advance(days=1)
        assert len(client.report_requests(next(iter(sb.world.apps)))) == 1
    assert capsys.readouterr().err == ""


def test_explicit_kwargs_against_served_sandbox(served_sandbox, tmp_path):
    sb = served_sandbox.sandbox
    with asc_nb.connect(
        key_id=sb.key_id,
        issuer_id=sb.issuer_id,
        private_key=sb.private_key_pem,
        base_url=served_sandbox.base_url,
        cache_dir=tmp_path,
        environ={},
    ) as client:
        assert client.sandbox is None and client.base_url.startswith("http://127.0.0.1:")
        assert client.credentials.source == "arguments"
        assert len(client.apps()) == 3


@pytest.mark.parametrize("how", ["path", "literal", "b64"])
def test_env_credentials_and_base_url(served_sandbox, tmp_path, how):
    sb = served_sandbox.sandbox
    env = {
        "ASC_KEY_ID": sb.key_id,
        "ASC_ISSUER_ID": sb.issuer_id,
        "ASC_BASE_URL": served_sandbox.base_url,
        "ASC_NB_CACHE_DIR": str(tmp_path / "c"),
    }
    if how == "path":
        key = tmp_path / f"AuthKey_{sb.key_id}.p8"
        key.write_text(sb.private_key_pem)
        env["ASC_PRIVATE_KEY_PATH"] = str(key)
    elif how == "literal":
        env["ASC_PRIVATE_KEY"] = sb.private_key_pem.replace("\n", "\\n")
    else:
        env["ASC_PRIVATE_KEY_B64"] = base64.b64encode(sb.private_key_pem.encode()).decode()
    with asc_nb.connect(environ=env) as client:
        assert client.cache_dir == tmp_path / "c"
        assert client.credentials.source.startswith(
            {"path": "ASC_PRIVATE_KEY_PATH", "literal": "ASC_PRIVATE_KEY", "b64": "ASC_PRIVATE_KEY_B64"}[how]
        )
        assert len(client.apps()) == 3


def test_incomplete_env_is_an_error_not_a_sandbox():
    with pytest.raises(ConfigError, match="ASC_ISSUER_ID"):
        asc_nb.connect(environ={"ASC_KEY_ID": "2X9R4HXF34", "ASC_PRIVATE_KEY": "x"})


def test_base_url_without_credentials():
    with pytest.raises(ConfigError, match="no credentials"):
        asc_nb.connect(environ={"ASC_BASE_URL": "http://127.0.0.1:9"})


def test_plain_http_to_remote_host_refused(sandbox):
    with pytest.raises(ConfigError, match="plain http"):
        asc_nb.connect(sandbox=sandbox, base_url="http://api.example.com")


def test_default_targets_apple(sandbox, tmp_path):
    creds = Credentials(sandbox.key_id, sandbox.issuer_id, sandbox.private_key_pem)
    with asc_nb.connect(creds, environ={}, cache_dir=tmp_path) as client:
        assert client.base_url == "https://api.appstoreconnect.apple.com"
        assert client.sandbox is None
        assert "BEGIN" not in repr(client)


def test_cache_dir_default(sandbox):
    with asc_nb.connect(sandbox=sandbox, environ={}) as client:
        assert isinstance(client.cache_dir, Path) and "asc-nb" in str(client.cache_dir)


def test_both_credentials_forms_refused(sandbox):
    creds = Credentials(sandbox.key_id, sandbox.issuer_id, sandbox.private_key_pem)
    with pytest.raises(ConfigError, match="either"):
        asc_nb.connect(creds, key_id=sandbox.key_id)


def test_public_surface():
    for name in (
        "connect",
        "Client",
        "Credentials",
        "Sandbox",
        "AccessType",
        "Category",
        "Granularity",
        "ASCError",
        "APIError",
        "ConfigError",
        "ChecksumError",
        "ConflictError",
        "RateLimitError",
    ):
        assert getattr(asc_nb, name)
    assert asc_nb.Sandbox is Sandbox


def test_default_sandbox_starts_with_history(fresh_notice, capsys, tmp_path):
    with asc_nb.connect(environ={}, cache_dir=tmp_path) as client:
        apps = client.apps()
        for app_id in apps["id"]:
            reqs = client.report_requests(app_id)
            assert list(reqs["access_type"].astype(str)) == ["ONGOING"]
        req = client.report_requests(apps["id"].iloc[0])["id"].iloc[0]
        now = client.sandbox.now.date()
        start = (now - __import__("datetime").timedelta(days=14)).isoformat()
        df = client.fetch(req, "App Sessions Standard", start=start, progress=False)
        assert len(df) > 0 and df["date"].min().date().isoformat() == start


def test_notice_in_a_notebook_is_a_quiet_info_line(fresh_notice, capsys, monkeypatch, tmp_path):
    shown = []
    monkeypatch.setattr(asc_nb.connection, "_in_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    with asc_nb.connect(environ={}, cache_dir=tmp_path):
        pass
    assert capsys.readouterr().err == ""  # no red stderr box
    assert len(shown) == 1 and repr(shown[0]) == asc_nb.SANDBOX_NOTICE
    assert "asc-nb-notice" in shown[0]._repr_html_() and "jp-ui-font-color2" in shown[0]._repr_html_()
