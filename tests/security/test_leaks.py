"""Secrets stay where they belong.

- the bearer token goes only to the API origin: never to the download host, a ``links.next`` or a
  redirect on another origin;
- the token and the private key never appear in ``repr``/``str`` of any object, log records at any
  level (httpx/httpcore included), exception messages, widget state or notebook outputs;
- plain http is refused except to loopback;
- presigned query strings (``X-Amz-Signature``…) are redacted in logs and reprs;
- a key file is read, never copied or written anywhere.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import ipywidgets
import pytest

import asc_nb
from asc_nb.client import Client
from asc_nb.errors import ASCError, ConfigError, UnsafeURLError
from asc_nb.http import Session
from asc_nb.sandbox import Sandbox

from .conftest import REPORT, Sleeps

ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = re.compile(r"X-Amz-(Signature|Credential|Security-Token)=[^&\s\"'<>]+", re.I)


# --------------------------------------------------------------------------- helpers


class Tokens:
    """Every Authorization header a client sends, per destination origin (httpx event hook: instrumentation,
    not a mock — the header is the one the client's own auth flow set)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (origin, header value)

    def hook(self, request: httpx.Request) -> None:
        value = request.headers.get("authorization")
        if value:
            self.sent.append((f"{request.url.scheme}://{request.url.host}:{request.url.port}", value))

    def watch(self, client: Client) -> None:
        client.http.client.event_hooks["request"].append(self.hook)
        client.downloads.event_hooks["request"].append(self.hook)

    def secrets(self, client: Client) -> set[str]:
        """The tokens, their signature parts, and every line of the private key body."""
        out: set[str] = set()
        for _, value in self.sent:
            token = value.split(" ", 1)[1]
            out.add(token)
            out.add(token.rsplit(".", 1)[1])
        return out


def key_lines(pem: str) -> set[str]:
    return {ln for ln in pem.strip().splitlines() if ln and not ln.startswith("-----") and len(ln) > 16}


def find(secrets: set[str], text: str) -> list[str]:
    return [s[:12] + "…" for s in secrets if s and s in text]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Sandbox, Any, Client, Tokens]]:
    sb = Sandbox(seed=31, apps=2, history_days=10)
    with sb.serve() as handle:
        tokens = Tokens()
        c = Client(sandbox=sb, base_url=handle.base_url, cache_dir=tmp_path / "cache", sleep=Sleeps())
        tokens.watch(c)
        try:
            yield sb, handle, c, tokens
        finally:
            c.close()


def _lifecycle(sb: Sandbox, c: Client) -> tuple[list[Any], list[BaseException]]:
    """Every method once, plus the failures that produce messages (401, 429, 5xx, resets, bad files)."""
    objects: list[Any] = [c, c.http, c.signer, c.credentials, c.rate_limit, sb]
    errors: list[BaseException] = []
    apps = c.apps()
    app_id = str(apps["id"].iloc[0])
    reqs = c.report_requests(app_id)
    req = c.report_request(str(reqs["id"].iloc[0]))
    reports = c.reports(req.id, name=REPORT)
    rep = c.report(str(reports["id"].iloc[0]))
    inst = c.instances(rep.id, "DAILY")
    instance = c.instance(str(inst["id"].iloc[-2]))
    segs = c.segments(instance.id)
    seg = c.segment(str(segs["id"].iloc[0]))
    objects += [apps, reqs, req, reports, rep, inst, instance, segs, seg, c.rate_limit, c.last_response]
    # faults that make the client log and raise
    sb.faults.add("rate_limit", path="/v1/apps", count=2, retry_after=1)
    sb.faults.add("server_error", path="/reports", count=1, status=503)
    sb.faults.add("reset", path="/instances", count=1)
    sb.faults.add("expired", host="download", count=1)
    sb.faults.add("truncate", host="download", count=1)
    sb.faults.add("corrupt", host="download", count=1)
    c.apps()
    frame = c.fetch(
        req.id,
        REPORT,
        start=str(inst["processing_date"].iloc[-5].date()),
        end=str(inst["processing_date"].iloc[-3].date()),
        progress=False,
    )
    objects.append(frame)
    sb.faults.clear()
    for kind, kw in (("rate_limit", {}), ("server_error", {"status": 502})):
        sb.faults.add(kind, path="/segments", count=None, **kw)
        try:
            c.segments(instance.id)
        except ASCError as exc:
            errors.append(exc)
        sb.faults.clear()
    sb.faults.add("corrupt", host="download", count=None)
    try:
        c.download_segment(seg, cache_dir=c.cache_dir / "other")
    except ASCError as exc:
        errors.append(exc)
    sb.faults.clear()
    sb.faults.add("expired", host="download", count=None)
    try:
        c.download_segment(seg, cache_dir=c.cache_dir / "other2")
    except ASCError as exc:
        errors.append(exc)
    sb.faults.clear()
    for bad in (
        lambda: c.report_request("00000000-0000-0000-0000-000000000000"),
        lambda: c.create_report_request(app_id, "ONGOING"),
    ):
        try:
            bad()
        except ASCError as exc:
            errors.append(exc)
    # a key the server does not know: 401 twice (re-signed once), AuthenticationError
    stranger = asc_nb.connect(
        key_id="ZZZZZZZZZ8",
        issuer_id=sb.issuer_id,
        private_key=sb.add_key()["private_key_pem"],
        base_url=c.base_url,
    )
    try:
        stranger.apps()
    except ASCError as exc:
        errors.append(exc)
    objects.append(stranger)
    return objects, errors


def _text_of(objects: list[Any], errors: list[BaseException]) -> str:
    parts = []
    for o in objects:
        parts += [repr(o), str(o)]
        if hasattr(o, "_repr_html_"):
            parts.append(o._repr_html_() or "")
    for e in errors:
        parts += [repr(e), str(e), repr(e.args)]
        if e.__cause__ is not None:
            parts.append(str(e.__cause__))
    return "\n".join(parts)


# --------------------------------------------------------------------------- the token's destinations


def test_token_goes_only_to_the_api_origin(world) -> None:
    sb, handle, c, tokens = world
    _lifecycle(sb, c)
    origins = {o for o, _ in tokens.sent}
    api = httpx.URL(handle.base_url)
    assert origins == {f"http://{api.host}:{api.port}"}, origins
    downloads = [call for call in sb.calls if call[1] == "download"]
    assert len(downloads) >= 5  # the download host was used (and answers 400 to any Authorization header)


class _Evil(ThreadingHTTPServer):
    daemon_threads = True


def _evil_server(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> tuple[_Evil, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append({k.lower(): v for k, v in self.headers.items()} | {":path": self.path})
            status, headers, body = routes.get(
                self.path.split("?")[0], (200, {}, b'{"data": [], "links": {}}')
            )
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = _Evil(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv, seen


@pytest.mark.parametrize(
    "trick",
    [
        "links.next on another port",
        "links.next with userinfo",
        "302 to another host",
        "links.next downgraded to another scheme",
    ],
)
def test_token_not_sent_to_another_origin(trick: str, tmp_path: Path) -> None:
    sb = Sandbox(seed=32)
    other, other_seen = _evil_server({})
    o_port = other.server_address[1]
    nxt = {
        "links.next on another port": f"http://127.0.0.1:{o_port}/v1/apps?cursor=x",
        "links.next with userinfo": f"http://127.0.0.1:1@127.0.0.1:{o_port}/v1/apps?cursor=x",
        "302 to another host": None,
        "links.next downgraded to another scheme": None,
    }[trick]
    page = {
        "data": [{"type": "apps", "id": "1", "attributes": {"name": "x"}}],
        "links": {"self": "/v1/apps", **({"next": nxt} if nxt else {})},
        "meta": {"paging": {"limit": 200}},
    }
    routes = {"/v1/apps": (200, {}, json.dumps(page).encode())}
    if trick == "302 to another host":
        routes = {"/v1/apps": (302, {"Location": f"http://127.0.0.1:{o_port}/v1/apps"}, b"")}
    api, api_seen = _evil_server(routes)
    base = f"http://127.0.0.1:{api.server_address[1]}"
    if trick == "links.next downgraded to another scheme":
        page["links"]["next"] = base.replace("http://", "https://") + "/v1/apps?cursor=x"
        routes["/v1/apps"] = (200, {}, json.dumps(page).encode())
    c = asc_nb.connect(
        key_id=sb.key_id,
        issuer_id=sb.issuer_id,
        private_key=sb.private_key_pem,
        base_url=base,
        cache_dir=tmp_path,
        sleep=Sleeps(),
    )
    try:
        with pytest.raises(ASCError) as info:
            c.apps()
    finally:
        c.close()
        api.shutdown()
        other.shutdown()
    assert api_seen and api_seen[0]["authorization"].startswith("Bearer ")
    assert other_seen == [], f"the other origin was contacted: {other_seen}"
    if trick.startswith("links.next"):
        assert isinstance(info.value, UnsafeURLError) and "refusing to follow it" in str(info.value)
    token = api_seen[0]["authorization"].split()[1]
    assert token not in str(info.value) and token not in repr(info.value)


def test_download_url_on_the_api_host_gets_no_token(world) -> None:
    """A (malicious or mistaken) segment URL pointing at the API host itself still goes out without the token."""
    sb, handle, c, tokens = world
    seen: list[httpx.Request] = []
    c.downloads.event_hooks["request"].append(seen.append)
    seg = {"id": "s1", "checksum": "0" * 32, "size_in_bytes": 10, "url": handle.base_url + "/v1/apps"}
    with pytest.raises(ASCError):
        c.download_segment(seg)
    assert seen and all("authorization" not in r.headers for r in seen)


# --------------------------------------------------------------------------- never printed, logged or shown


def test_token_and_key_never_in_reprs_errors_or_logs(world, caplog: pytest.LogCaptureFixture) -> None:
    sb, _, c, tokens = world
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "asc_nb", "hpack", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    objects, errors = _lifecycle(sb, c)
    assert len(errors) >= 6 and len(tokens.sent) >= 20
    secrets = tokens.secrets(c) | key_lines(sb.private_key_pem)
    assert len(secrets) >= 3
    logs = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert any(r.name.startswith("httpcore") for r in caplog.records), (
        "DEBUG logging of httpcore was not captured"
    )
    assert not find(secrets, logs), "a secret is in the logs"
    assert not find(secrets, _text_of(objects, errors)), "a secret is in a repr/str or an exception message"


def test_presigned_signatures_redacted_in_our_logs_reprs_and_errors(world, caplog) -> None:
    sb, _, c, _ = world
    caplog.set_level(logging.DEBUG)
    objects, errors = _lifecycle(sb, c)
    seg_objects = [o for o in objects if type(o).__name__ == "Segment"]
    assert seg_objects
    text = _text_of([o for o in objects if not hasattr(o, "columns")], errors)  # frames hold the URL as data
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("asc_nb"))
    assert not SIGNATURE.search(text), SIGNATURE.search(text)
    assert not SIGNATURE.search(ours), SIGNATURE.search(ours)


def test_presigned_signatures_redacted_in_all_logs(world, caplog) -> None:
    sb, _, c, _ = world
    caplog.set_level(logging.DEBUG)
    _lifecycle(sb, c)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert not SIGNATURE.search(logs), SIGNATURE.search(logs)


def _all_widgets(root: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    seen: dict[int, ipywidgets.Widget] = {}
    todo = [root]
    while todo:
        w = todo.pop()
        if id(w) in seen:
            continue
        seen[id(w)] = w
        for value in list(vars(w).values()) + list(getattr(w, "children", ())):
            if isinstance(value, ipywidgets.Widget):
                todo.append(value)
    return list(seen.values())


def test_widget_state_holds_no_secret(world) -> None:
    sb, _, c, tokens = world
    from asc_nb.widgets import dashboard

    d = dashboard(c)
    d.wait()  # panels load on their worker threads
    app_id = d.request_panel.app.value
    d.requests_table.app.value = app_id
    d.wait()
    req_id = str(d.requests_table.frame["id"].iloc[0])
    d.explore(req_id)
    d.explorer.select_report(REPORT)
    d.explorer.list_instances.click()
    d.explorer.start_download()
    d.explorer.wait(60)
    assert d.explorer.frame is not None and len(d.explorer.frame) > 0, d.explorer.status.text
    d.request_panel.submit.click()  # a 409: an error shown in the panel
    d.wait()
    assert d.request_panel.error is not None
    widgets = _all_widgets(d)
    assert len(widgets) > 40
    state = json.dumps([w.get_state() for w in widgets], default=repr)
    traits = "\n".join(repr(w.trait_values()) for w in widgets)
    secrets = tokens.secrets(c) | key_lines(sb.private_key_pem)
    assert not find(secrets, state + traits)
    assert not SIGNATURE.search(state), SIGNATURE.search(state)


def test_notebook_outputs_hold_no_secret() -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    jwt = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}")
    for nb in notebooks:
        doc = json.loads(nb.read_text())
        outputs = json.dumps([cell.get("outputs", []) for cell in doc["cells"]])
        for pattern in (
            jwt,
            re.compile(r"BEGIN (EC )?PRIVATE KEY"),
            re.compile(r"Bearer [A-Za-z0-9]"),
            SIGNATURE,
        ):
            assert not pattern.search(outputs), f"{nb.name}: {pattern.pattern} in outputs"


# --------------------------------------------------------------------------- transport rules


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com",
        "http://10.0.0.1",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://0.0.0.0",
        "http://[::ffff:7f00:1]",
        "http://169.254.169.254",
    ],
)
def test_plain_http_refused_except_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="Refusing plain http"):
        Session(url, None)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:9",
        "http://[::1]:9",
        "http://127.5.5.5",
        "https://api.appstoreconnect.apple.com",
    ],
)
def test_loopback_and_https_allowed(url: str) -> None:
    Session(url, None).close()


# --------------------------------------------------------------------------- the key file


_OPENS: list[tuple[str, str, int]] = []
_WATCH = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if _WATCH.is_set() and event in ("open", "shutil.copyfile", "os.rename", "os.link", "os.symlink"):
        if event == "open":
            path, mode, flags = args
            if isinstance(path, (str, bytes, os.PathLike)):
                _OPENS.append((os.fsdecode(path), str(mode), int(flags or 0)))
        else:
            _OPENS.append((event + ":" + " ".join(map(str, args)), "", 0))


_HOOKED: list[bool] = []


def test_key_file_read_not_copied(tmp_path: Path) -> None:
    if not _HOOKED:  # audit hooks cannot be removed: install once, only when this test runs, gated by _WATCH
        sys.addaudithook(_audit)
        _HOOKED.append(True)
    sb = Sandbox(seed=33, apps=1, history_days=10)
    keys = tmp_path / "keys"
    keys.mkdir()
    key_file = keys / f"AuthKey_{sb.key_id}.p8"
    key_file.write_text(sb.private_key_pem)
    os.chmod(key_file, 0o600)
    before = (key_file.read_bytes(), key_file.stat().st_mtime_ns, sorted(os.listdir(keys)))
    cache = tmp_path / "cache"
    env = {
        "ASC_KEY_ID": sb.key_id,
        "ASC_ISSUER_ID": sb.issuer_id,
        "ASC_PRIVATE_KEY_PATH": str(key_file),
        "ASC_NB_CACHE_DIR": str(cache),
    }
    _OPENS.clear()
    _WATCH.set()
    try:
        with sb.serve() as handle:
            env["ASC_BASE_URL"] = handle.base_url
            with asc_nb.connect(environ=env, sleep=Sleeps()) as c:
                assert c.credentials.source == f"ASC_PRIVATE_KEY_PATH={key_file}"
                app = str(c.apps()["id"].iloc[0])
                req = str(c.report_requests(app)["id"].iloc[0])
                c.fetch(req, REPORT, start=str(sb.now.date().replace(day=1)), progress=False)
            with asc_nb.connect(
                key_id=None,
                issuer_id=sb.issuer_id,
                private_key=key_file,
                base_url=handle.base_url,
                cache_dir=cache,
            ) as c2:
                c2.apps()
    finally:
        _WATCH.clear()
    opens = list(_OPENS)
    of_key = [o for o in opens if o[0] == str(key_file)]
    assert len(of_key) == 2, of_key  # once per Credentials, nothing else
    assert all(
        "w" not in m and "a" not in m and "+" not in m and not f & (os.O_WRONLY | os.O_RDWR)
        for _, m, f in of_key
    ), of_key
    assert not [o for o in opens if ":" in o[0] and str(key_file) in o[0]], "the key file was copied or moved"
    written = [
        p
        for p, m, f in opens
        if ("w" in m or "a" in m or "+" in m or f & (os.O_WRONLY | os.O_RDWR)) and not p.startswith("/dev/")
    ]
    body = key_lines(sb.private_key_pem)
    leaked = [p for p in written if Path(p).is_file() and find(body, Path(p).read_bytes().decode("latin-1"))]
    assert not leaked, f"key material written to {leaked}"
    for p in cache.rglob("*"):
        if p.is_file():
            assert not find(body, p.read_bytes().decode("latin-1")), p
    assert (key_file.read_bytes(), key_file.stat().st_mtime_ns, sorted(os.listdir(keys))) == before
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle

        pickle.dumps(c.credentials)
