"""The cron CLI refuses what would put wrong data in a store, with exit 2 and one line on stderr."""

from __future__ import annotations

import os

import pytest

import asc_nb
from asc_nb.__main__ import main


@pytest.fixture
def no_credentials(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ASC_"):
            monkeypatch.delenv(name)


def test_no_credentials_never_syncs_the_embedded_sandbox(no_credentials, tmp_path, capsys):
    # cron without its ASC_* variables: the simulated sandbox's rows must not land in the real store
    code = main(["sync", "--store", str(tmp_path / "store"), "--reports", "App Sessions Standard"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no App Store Connect credentials" in err and "ASC_KEY_ID" in err
    assert not list((tmp_path / "store").rglob("*.parquet"))


def test_a_store_path_that_is_a_file(no_credentials, monkeypatch, tmp_path, capsys):
    key = asc_nb.Sandbox(seed=0, apps=1).add_key()
    pem = tmp_path / "AuthKey.p8"
    pem.write_text(key["private_key_pem"])
    monkeypatch.setenv("ASC_KEY_ID", key["key_id"])
    monkeypatch.setenv("ASC_ISSUER_ID", key["issuer_id"])
    monkeypatch.setenv("ASC_PRIVATE_KEY_PATH", str(pem))
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    with pytest.raises(asc_nb.ConfigError, match="is a file"):
        asc_nb.Store(afile)
    code = main(["sync", "--store", str(afile)])
    err = capsys.readouterr().err
    assert code == 2
    assert "is a file" in err and "Traceback" not in err


def test_help_tells_cron_users_the_exit_codes_and_credentials(capsys):
    with pytest.raises(SystemExit) as done:
        main(["sync", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "75" in out and "exit status" in out and "ASC_KEY_ID" in out and "``" not in out
