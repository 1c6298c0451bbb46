"""``python -m asc_nb.sandbox --port N --write-credentials DIR``: the sandbox as a local HTTP service.

Writes the demo key as ``DIR/AuthKey_<KEYID>.p8`` (made now, never committed), prints ONE JSON
line ``{"base_url", "download_base_url", "key_id", "issuer_id", "key_path"}`` so a script can
pick it up, and serves until interrupted. ``POST /_sandbox/advance {"days": N}`` moves the clock.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from asc_nb.sandbox import Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asc_nb.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="API port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--download-port", type=int, default=0, help="download-host port (0 = any free port)")
    parser.add_argument("--write-credentials", metavar="DIR", help="write AuthKey_<KEYID>.p8 into DIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--apps", type=int, default=3)
    parser.add_argument("--history-days", type=int, default=0)
    parser.add_argument("--start", default=None, help="simulated start time, e.g. 2026-03-02T09:00:00Z")
    parser.add_argument(
        "--data-faults",
        metavar="KIND=N,...",
        default=None,
        help="inject data faults into the ONGOING series (gap, empty, duplicate, restatement, "
        "expired), placed for the seed; needs --history-days (docs/sandbox.md)",
    )
    parser.add_argument(
        "--fault-reports",
        metavar="NAME,...",
        default=None,
        help="reports the data faults go into (default: App Sessions Standard, App Downloads Standard)",
    )
    args = parser.parse_args(argv)

    kwargs: dict[str, object] = {"start": args.start} if args.start else {}
    if args.data_faults:
        kwargs["data_faults"] = args.data_faults
        if args.fault_reports:
            kwargs["fault_reports"] = [r.strip() for r in args.fault_reports.split(",") if r.strip()]
    try:
        sandbox = Sandbox(seed=args.seed, apps=args.apps, history_days=args.history_days, **kwargs)  # type: ignore[arg-type]
    except ValueError as err:
        parser.error(str(err))
    key_path = None
    if args.write_credentials:
        folder = Path(args.write_credentials)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"AuthKey_{sandbox.key_id}.p8"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(sandbox.private_key_pem)
        key_path = str(path.resolve())

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with sandbox.serve(port=args.port, download_port=args.download_port) as srv:
        line = {
            "base_url": srv.base_url,
            "download_base_url": srv.download_base_url,
            "key_id": sandbox.key_id,
            "issuer_id": sandbox.issuer_id,
            "key_path": key_path,
        }
        if args.data_faults:
            line["data_faults"] = [f.as_dict() for f in sandbox.data_faults]
        print(json.dumps(line), flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    print("sandbox stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
