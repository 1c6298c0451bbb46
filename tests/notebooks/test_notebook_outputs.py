"""The example notebooks are committed executed, and what they show is safe to share.

nbval (``pytest --nbval notebooks/``) re-runs them and compares outputs; these tests check the
stored files themselves:

* no output holds a secret: a private key, a JWT, a bearer token, or a presigned query string
  (a segment URL is its own credential for 5 minutes) — and the patterns are proven against the
  real artefacts the sandbox makes (its key, a signed token, a listed segment URL);
* every notebook was executed top to bottom in one kernel, without errors, and has outputs;
* no notebook carries ``metadata.widgets`` (nbconvert writes widget state there; it is noise in
  diffs and can hold data);
* no output shows a local temporary path or a progress bar (both vary between runs);
* every sanitize rule is explained by a comment.
"""

from __future__ import annotations

import configparser
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = [
    "01-quickstart.ipynb",
    "02-lifecycle.ipynb",
    "03-widgets.ipynb",
    "04-bulk-export.ipynb",
    "06-app-analytics.ipynb",
    "07-views-and-report.ipynb",
]

#: base64 image payloads are random text: scanning them for token-like runs only finds noise
BINARY_MIME = re.compile(r"^image/(png|jpeg|gif|webp)$")

SECRETS: dict[str, re.Pattern[str]] = {
    "PEM private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    # the DER prefix of a PKCS#8 EC P-256 key, i.e. a key body pasted without its PEM armour
    "EC private key body": re.compile(r"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*){0,2}"),
    "bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
    "presigned query (X-Amz-*)": re.compile(
        r"X-Amz-(?:Signature|Credential|Security-Token|Expires|Algorithm|Date|SignedHeaders)\b", re.IGNORECASE
    ),
    "presigned query (Signature=/Expires=)": re.compile(
        r"[?&](?:Signature|Expires|AWSAccessKeyId|Key-Pair-Id|Policy)=", re.IGNORECASE
    ),
}

LOCAL_PATHS = re.compile(
    r"(?:/tmp/|/var/folders/|/private/var/|\\AppData\\Local\\Temp|/home/[^/\s]+/|/root/)"
)
PROGRESS_BAR = re.compile(r"\d+%\|")


def _load(name: str) -> dict:
    path = NOTEBOOKS_DIR / name
    assert path.exists(), f"notebooks/{name} is missing"
    return json.loads(path.read_text(encoding="utf-8"))


def _text(value: object) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def output_texts(nb: dict) -> Iterator[tuple[str, str]]:
    """(where, text) for every textual piece of every stored output."""
    for index, cell in enumerate(nb.get("cells", [])):
        for k, out in enumerate(cell.get("outputs", []) or []):
            where = f"cell {index} output {k}"
            kind = out.get("output_type")
            if kind == "stream":
                yield f"{where} ({out.get('name')})", _text(out.get("text", ""))
            elif kind == "error":
                yield (
                    f"{where} (error)",
                    "\n".join([out.get("ename", ""), out.get("evalue", ""), *out.get("traceback", [])]),
                )
            for mime, value in (out.get("data") or {}).items():
                if not BINARY_MIME.match(mime):
                    yield f"{where} ({mime})", _text(value)
            if out.get("metadata"):
                yield f"{where} (metadata)", _text(out["metadata"])
        for name, attachment in (cell.get("attachments") or {}).items():
            for mime, value in attachment.items():
                if not BINARY_MIME.match(mime):
                    yield f"cell {index} attachment {name} ({mime})", _text(value)


def find_secrets(text: str) -> list[tuple[str, str]]:
    """(kind, excerpt) of every secret-looking match in ``text``."""
    found = []
    for kind, pattern in SECRETS.items():
        for m in pattern.finditer(text):
            found.append((kind, text[max(0, m.start() - 20) : m.end() + 20]))
    return found


# --------------------------------------------------------------------------- the detector works


@pytest.fixture(scope="module")
def real_artefacts() -> dict[str, str]:
    """A private key, a signed token, an Authorization header and a segment URL, as the sandbox makes them."""
    import asc_nb

    sandbox = asc_nb.Sandbox(seed=3)
    client = asc_nb.connect(sandbox=sandbox)
    app_id = client.apps()["id"].iloc[0]
    request = client.ensure_ongoing(app_id)
    sandbox.advance(days=2)
    report = client.reports(request.id, name="App Crashes").iloc[0]
    instance = client.instances(report["id"]).iloc[0]
    url = client.segments(instance["id"])["url"].iloc[0]
    token = client.signer.token()
    client.close()
    return {
        "PEM private key": sandbox.private_key_pem,
        "EC private key body": "".join(sandbox.private_key_pem.strip().splitlines()[1:-1]),
        "JWT": token,
        "bearer token": f"Authorization: Bearer {token}",
        "presigned query (X-Amz-*)": url,
        "presigned query (Signature=/Expires=)": (
            "https://d1.cloudfront.net/r.csv.gz?Expires=1700000000&Signature=abc123~&Key-Pair-Id=K2"
        ),
    }


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_detector_catches_real_secrets(real_artefacts: dict[str, str], kind: str) -> None:
    text = f"some output before\n{real_artefacts[kind]}\nand after"
    assert kind in {k for k, _ in find_secrets(text)}, f"the {kind} pattern misses a real one"


def test_detector_catches_a_repr_of_a_url(real_artefacts: dict[str, str]) -> None:
    # a DataFrame repr truncates long cells; the query string must still be caught when it shows
    url = real_artefacts["presigned query (X-Amz-*)"]
    assert find_secrets(repr({"url": url}))


def test_detector_ignores_ordinary_outputs() -> None:
    ordinary = (
        "409 Conflict — STATE_ERROR: You already have such an entity (POST /v1/analyticsReportRequests)\n"
        "ReportRequest(id='3616dfbc-9182-50de-bb8e-92213861d454', access_type='ONGOING')\n"
        "checksum ea2da65182fba0f577aba90529d98d78  size_in_bytes 12252\n"
        "export ASC_PRIVATE_KEY_PATH=~/keys/AuthKey_2X9R4HXF34.p8  key_id=BVSZ7DRTAV\n"
        "<Figure size 800x350 with 1 Axes>  3592 of 3600 calls left this hour\n"
    )
    assert find_secrets(ordinary) == []


# --------------------------------------------------------------------------- the notebooks


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_secret_in_outputs(name: str) -> None:
    leaks = [
        f"{where}: {kind}: …{excerpt}…"
        for where, text in output_texts(_load(name))
        for kind, excerpt in find_secrets(text)
    ]
    assert not leaks, f"{name} shows secrets in its outputs:\n" + "\n".join(leaks)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_secret_in_sources(name: str) -> None:
    nb = _load(name)
    leaks = [
        f"cell {i}: {kind}: …{excerpt}…"
        for i, cell in enumerate(nb["cells"])
        for kind, excerpt in find_secrets(_text(cell.get("source", "")))
    ]
    assert not leaks, f"{name} has secrets in its source:\n" + "\n".join(leaks)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_executed(name: str) -> None:
    nb = _load(name)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{name} has no code cells"
    counts = [c.get("execution_count") for c in code]
    assert None not in counts, (
        f"{name}: cells {[i for i, n in enumerate(counts) if n is None]} were never executed"
    )
    assert counts == list(range(1, len(code) + 1)), (
        f"{name}: execution counts {counts} — run it top to bottom in a fresh kernel "
        "(jupyter nbconvert --to notebook --execute --inplace)"
    )
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert outputs, f"{name} has no stored outputs"
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{name} stored errors: {errors}"
    assert any(text.strip() for _, text in output_texts(nb)), f"{name}: every stored output is empty"
    for out in outputs:
        if out.get("output_type") in ("execute_result", "display_data"):
            assert out.get("data"), f"{name}: an output without data"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_widget_state(name: str) -> None:
    nb = _load(name)
    assert "widgets" not in nb.get("metadata", {}), (
        f"{name} carries metadata.widgets (widget state written by nbconvert): strip it before committing"
    )
    for i, cell in enumerate(nb["cells"]):
        assert "widgets" not in cell.get("metadata", {}), f"{name}: cell {i} carries widget state"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_local_paths_or_progress_bars(name: str) -> None:
    problems = []
    for where, text in output_texts(_load(name)):
        if m := LOCAL_PATHS.search(text):
            problems.append(f"{where}: local path …{text[max(0, m.start() - 20) : m.end() + 40]}…")
        if PROGRESS_BAR.search(text) or "\r" in text:
            problems.append(f"{where}: progress bar output (pass progress=False)")
    assert not problems, f"{name}: outputs that vary from machine to machine:\n" + "\n".join(problems)


def test_sanitize_rules_are_explained() -> None:
    path = NOTEBOOKS_DIR / "sanitize.cfg"
    lines = path.read_text(encoding="utf-8").splitlines()
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    assert parser.sections(), "sanitize.cfg has no rules"
    for section in parser.sections():
        assert {"regex", "replace"} <= set(parser[section]), f"[{section}] needs regex: and replace:"
        re.compile(parser[section]["regex"])
        at = lines.index(f"[{section}]")
        assert at > 0 and lines[at - 1].lstrip().startswith("#"), f"[{section}] is not explained by a comment"
