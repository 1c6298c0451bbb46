"""Regenerate asc_nb/spec_parameters.json: the query parameters Apple's spec declares for /v1/apps.

``/v1/apps`` and ``/v1/apps/{id}`` take about 57 parameters about resources asc-nb never reads
(``include=builds``, ``fields[appInfos]``, ``limit[appEvents]``...). Rather than a hand list,
models.ENDPOINTS reads them from this file, which is extracted from Apple's OpenAPI document;
tests/sandbox/test_endpoint_table.py fails when the two drift apart.

    python tools/spec_parameters.py [path/to/asc-analytics-openapi.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "spec" / "asc-analytics-openapi.json"
OUT = ROOT / "asc_nb" / "spec_parameters.json"
OPERATIONS = ("GET /v1/apps", "GET /v1/apps/{id}")


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """``{"operations": {"GET /v1/apps": {name: {"type", "enum"?, "maximum"?}}}}`` in the spec's order."""
    out: dict[str, Any] = {
        "source": "tests/spec/asc-analytics-openapi.json (Apple App Store Connect API OpenAPI 4.4.1); "
        "regenerate with: python tools/spec_parameters.py",
        "operations": {},
    }
    for op in OPERATIONS:
        method, path = op.split(" ", 1)
        params: dict[str, Any] = {}
        for p in spec["paths"][path][method.lower()].get("parameters", []):
            if p.get("in") != "query":
                continue
            schema = p["schema"]
            entry: dict[str, Any] = {"type": schema["type"]}
            enum = schema.get("items", schema).get("enum")
            if enum:
                entry["enum"] = list(enum)
            if "maximum" in schema:
                entry["maximum"] = schema["maximum"]
            params[p["name"]] = entry
        out["operations"][op] = params
    return out


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[1] if len(argv) > 1 else SPEC).read_text())
    OUT.write_text(json.dumps(extract(spec), indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv)
