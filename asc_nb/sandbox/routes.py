"""The one router every front uses: ``handle(method, url, headers, body) -> (status, headers, body)``.

Routing and parameter validation come from ``asc_nb.models.ENDPOINTS`` (the table the client
also uses), so the sandbox accepts exactly the parameters the table declares and answers
anything else the way Apple does: 400 ``PARAMETER_ERROR.*`` naming the parameter. Bodies are
JSON:API documents shaped as the spec's response schemas; errors are ``ErrorResponse``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from asc_nb import models
from asc_nb.models import DEFAULT_PAGE_LIMIT, AccessType, Category, Endpoint, Granularity
from asc_nb.sandbox import downloads
from asc_nb.sandbox.auth import ApiKey, AuthError
from asc_nb.sandbox.clock import iso
from asc_nb.sandbox.faults import ConnectionReset, Truncated
from asc_nb.sandbox.state import ConflictError, Instance, ReportRequest

if TYPE_CHECKING:
    from asc_nb.sandbox import Sandbox

Reply = tuple[int, dict[str, str], bytes]
#: ``limit[reports]`` when ``include=reports`` is sent without it (Apple does not document a default;
#: this and the other choices where Apple is silent are listed in docs/sandbox.md).
DEFAULT_INCLUDE_LIMIT = 10
#: Endpoints whose GET counts as "reading" a request (what keeps an ONGOING request alive); a test
#: checks that exactly these touch the request.
READS = frozenset(
    {
        "request_reports",
        "request_report_linkages",
        "report",
        "report_instances",
        "report_instance_linkages",
        "instance",
        "instance_segments",
        "instance_segment_linkages",
        "segment",
    }
)
#: /v1/apps filters on the app's own attributes (the others are on related resources the sandbox does not model)
_APP_FILTERS = frozenset({"name", "bundleId", "sku", "id"})
#: a date as Apple's parameters take it (ASCII digits: ``\d`` would also match other scripts' digits)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: an integer as sent in a query: decimal digits, maybe a minus (so "-1" can be called below the minimum)
_INTEGER = re.compile(r"-?[0-9]+")
_OPERATION = {"GET": "GET_INSTANCE", "POST": "CREATE", "DELETE": "DELETE", "PATCH": "UPDATE", "PUT": "UPDATE"}


class ApiError(Exception):
    """Any error answer; :meth:`Router.handle` turns it into an ErrorResponse."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        *,
        parameter: str | None = None,
        pointer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.parameter, self.pointer = parameter, pointer
        self.headers = headers or {}


def _invalid(parameter: str, detail: str) -> ApiError:
    return ApiError(
        400, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", detail, parameter=parameter
    )


def _not_found(type_: str, id_: str) -> ApiError:
    return ApiError(
        404,
        "NOT_FOUND",
        "The specified resource does not exist",
        f"There is no resource of type '{type_}' with id '{id_}'",
    )


def _entity(status: int, code: str, detail: str, pointer: str) -> ApiError:
    titles = {422: "The request entity is not valid.", 409: "The provided entity includes an invalid value."}
    return ApiError(
        status, code, titles.get(status, "The request entity is not valid."), detail, pointer=pointer
    )


def _pointer(*members: str) -> str:
    """An RFC 6901 JSON pointer to ``members`` ('~' and '/' in a name are escaped)."""
    return "".join("/" + m.replace("~", "~0").replace("/", "~1") for m in members)


def _kind(value: Any) -> str:
    """The JSON type of ``value``, for error details."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the member '{k}' appears twice in one object")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _load_json(body: bytes) -> Any:
    """Parse a request body as strict JSON (no NaN/Infinity, no repeated member); 422 at ``""`` otherwise."""
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "it is empty" if not body.strip() else str(exc).split(": line")[0]
        raise _entity(
            422, "ENTITY_UNPROCESSABLE", f"The request entity is not valid JSON ({reason}).", ""
        ) from None


def _is_date(text: str) -> bool:
    """Exactly ``YYYY-MM-DD`` and a real day (``date.fromisoformat`` alone also takes ``20260302``,
    ``2026-W09-1`` and other ISO 8601 forms Apple's ``YYYY-MM-DD`` rules out)."""
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class Query:
    """The validated query of one call: parsed, checked against the endpoint's table row.

    As strict as Apple's spec reads: every parameter is ``style: form, explode: false``, so a list
    is one comma-separated value and a parameter given twice is refused (not merged, not "last
    wins"); values are taken as sent (no trimming); dates are ``YYYY-MM-DD`` and nothing else;
    integers are plain decimal digits within the declared bounds.
    """

    def __init__(self, ep: Endpoint, raw: str, secret: bytes) -> None:
        self.ep, self.raw, self.secret = ep, raw, secret
        self.pairs = parse_qsl(raw, keep_blank_values=True)
        self.values: dict[str, str] = {}
        allowed = ep.query_parameters
        for name, value in self.pairs:
            if name not in allowed:
                raise ApiError(
                    400,
                    "PARAMETER_ERROR.ILLEGAL",
                    "A parameter is not allowed for this request",
                    f"The parameter '{name}' can not be used with this request",
                    parameter=name,
                )
            if name in self.values:
                raise _invalid(
                    name,
                    f"The parameter '{name}' is given more than once; send it once, with a "
                    "list as comma-separated values",
                )
            self.values[name] = value
        self.filters: dict[str, list[str]] = {}
        self.fields: dict[str, set[str]] = {}
        self.exists: dict[str, bool] = {}
        for name, value in self.values.items():
            if name.startswith("filter["):
                key = name[7:-1]
                items = self._items(name, value)
                choices = ep.filters[key]
                for v in items:
                    if choices is not None and v not in choices:
                        raise _invalid(
                            name,
                            f"'{v}' is not a valid value for '{name}'; expected one of {', '.join(choices)}",
                        )
                    if key == "processingDate" and not _is_date(v):
                        raise _invalid(name, f"'{v}' is not a valid date for '{name}'; use YYYY-MM-DD")
                self.filters[key] = items
            elif name.startswith("fields["):
                key = name[7:-1]
                items = self._items(name, value)
                for v in items:
                    if v not in ep.fields[key]:
                        raise _invalid(name, f"'{v}' is not a valid field name for '{name}'")
                self.fields[key] = set(items)
            elif name.startswith("exists["):
                if value not in ("true", "false"):
                    raise _invalid(
                        name, f"'{value}' is not a valid value for '{name}'; expected true or false"
                    )
                self.exists[name[7:-1]] = value == "true"
        self.include: list[str] = []
        if "include" in self.values:
            for v in self._items("include", self.values["include"]):
                if v not in ep.include:
                    raise _invalid("include", f"'{v}' is not a valid relationship name for 'include'")
                if v not in self.include:
                    self.include.append(v)
        self.sort: list[str] = []
        if "sort" in self.values:
            for v in self._items("sort", self.values["sort"]):
                if v not in ep.sort:
                    raise _invalid("sort", f"'{v}' is not a valid sort value")
                self.sort.append(v)
        self.limit = self._int("limit", ep.max_limit, DEFAULT_PAGE_LIMIT) if ep.max_limit else 0
        self.include_limits = {
            rel: self._int(f"limit[{rel}]", mx, DEFAULT_INCLUDE_LIMIT)
            for rel, mx in ep.include_limits.items()
        }
        self.offset = self._decode_cursor(self.values["cursor"]) if "cursor" in self.values else 0

    @staticmethod
    def _items(name: str, value: str) -> list[str]:
        """A comma-separated list, as sent: an empty list or an empty item is an error."""
        items = value.split(",")
        if not value or any(not v for v in items):
            raise _invalid(
                name,
                f"The parameter '{name}' requires a value (a list is comma-separated, with no empty items)",
            )
        return items

    def _int(self, name: str, maximum: int | None, default: int) -> int:
        if name not in self.values:
            return default
        text = self.values[name]
        if not _INTEGER.fullmatch(text):
            raise _invalid(name, f"'{text}' is not a valid integer for '{name}'")
        value = int(text)
        if value < 1:
            raise _invalid(name, f"'{text}' is below the minimum of 1 for '{name}'")
        if maximum is not None and value > maximum:
            raise _invalid(name, f"'{text}' is above the maximum of {maximum} for '{name}'")
        return value

    def _mac(self, offset: int) -> str:
        mac = hmac.new(self.secret, f"{self.ep.name}/{offset}".encode(), hashlib.sha256).digest()[:6]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def cursor(self, offset: int) -> str:
        """An opaque cursor (Apple's look like ``Aw.VGkW1w``) that only this endpoint accepts back."""
        head = base64.urlsafe_b64encode(offset.to_bytes(4, "big").lstrip(b"\0") or b"\0").decode().rstrip("=")
        return f"{head}.{self._mac(offset)}"

    def _decode_cursor(self, text: str) -> int:
        head, _, mac = text.partition(".")
        try:
            raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
            offset = int.from_bytes(raw, "big")
        except (ValueError, TypeError):
            offset = -1
        if offset < 0 or not hmac.compare_digest(mac, self._mac(offset)):
            raise _invalid("cursor", f"'{text}' is not a valid cursor for this request")
        return offset

    def next_query(self, offset: int) -> str:
        """The query of the next page: a new cursor first, every other parameter echoed."""
        pairs = [("cursor", self.cursor(offset))] + [(k, v) for k, v in self.pairs if k != "cursor"]
        return urlencode(pairs, quote_via=quote, safe=",")


class Router:
    """Serves both hosts; the fronts (transport, server) only translate bytes on the wire."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.world = sandbox.world
        self._errors = 0
        #: status of ``ENTITY_ERROR.*`` answers: 422 as the spec documents for this POST; set 409 to answer
        #: the way Apple's live API is reported to (docs/sandbox.md). ``ENTITY_UNPROCESSABLE`` stays 422.
        self.entity_error_status = 422
        self._secret = hashlib.sha256(f"asc-sandbox-cursor/{self.world.seed}".encode()).digest()
        self._handlers: dict[str, Callable[..., Reply]] = {
            "apps": self._apps,
            "app": self._app,
            "app_report_requests": self._app_requests,
            "app_report_request_linkages": self._app_request_links,
            "create_report_request": self._create,
            "report_request": self._request,
            "delete_report_request": self._delete,
            "request_reports": self._reports,
            "request_report_linkages": self._report_links,
            "report": self._report,
            "report_instances": self._instances,
            "report_instance_linkages": self._instance_links,
            "instance": self._instance,
            "instance_segments": self._segments,
            "instance_segment_linkages": self._segment_links,
            "segment": self._segment,
        }

    # ------------------------------------------------------------------ entry point

    def handle(self, method: str, url: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        """Answer one HTTP request; may raise ``ConnectionReset`` / ``Truncated`` (injected faults)."""
        method = method.upper()
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        host = self.sb.host_kind(origin)
        path, query = parts.path or "/", parts.query
        hdrs = {k.lower(): v for k, v in headers.items()}
        if host == "api" and path.startswith("/_sandbox/"):
            return self._control(method, path, body)  # not Apple's API: no faults, not counted
        self.sb.record_call(method, host, path + (f"?{query}" if query else ""))
        fault = self.sb.faults.take(method, host, path + (f"?{query}" if query else ""))
        if fault is not None and fault.kind == "slow":
            time.sleep(float(fault.options.get("seconds", 1.0)))  # type: ignore[arg-type]
            fault = None
        if self.sb.latency:
            time.sleep(self.sb.latency)
        if host == "download":
            return downloads.handle(self.world, method, path, query, hdrs, fault)
        if fault is not None and fault.kind == "reset":
            raise ConnectionReset()
        key: ApiKey | None = None
        try:
            try:
                key = self.sb.keys.verify(hdrs.get("authorization"), method, path, query)
            except AuthError as exc:
                raise ApiError(
                    401,
                    "NOT_AUTHORIZED",
                    "Authentication credentials are missing or invalid.",
                    f"Provide a properly configured and signed bearer token, and make sure that it has not "
                    f"expired. ({exc})",
                ) from None
            if fault is not None and fault.kind == "rate_limit":
                extra = {}
                if fault.options.get("retry_after") is not None:
                    extra["Retry-After"] = str(fault.options["retry_after"])
                raise self._rate_limited(extra)
            allowed, _ = self.sb.limiter.hit(key.key_id)
            if not allowed:
                raise self._rate_limited({})
            if fault is not None and fault.kind == "server_error":
                status = int(fault.options.get("status", 503))  # type: ignore[call-overload]
                raise ApiError(
                    status,
                    "UNEXPECTED_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
                    "An unexpected error occurred." if status == 500 else "Service unavailable",
                    "The server encountered a temporary problem; try again later.",
                )
            reply = self._route(method, path, query, hdrs, body, origin, key)
        except ApiError as err:
            reply = self._error(err)
        except Exception as exc:  # a sandbox bug must look like Apple's 500, not kill the connection
            self.sb.internal_errors.append(traceback.format_exc())
            reply = self._error(
                ApiError(
                    500,
                    "UNEXPECTED_ERROR",
                    "An unexpected error occurred.",
                    f"The sandbox failed: {type(exc).__name__}: {exc}",
                )
            )
        status, out_headers, out_body = reply
        remaining = self.sb.limiter.remaining(key.key_id if key else None)
        out_headers["X-Rate-Limit"] = f"user-hour-lim:{self.sb.limiter.limit};user-hour-rem:{remaining};"
        if fault is not None and fault.kind == "truncate":
            keep = int(fault.options.get("keep", len(out_body) // 2))  # type: ignore[call-overload]
            out_headers["Content-Length"] = str(len(out_body))
            raise Truncated(status, out_headers, out_body[:keep])
        return status, out_headers, out_body

    def _rate_limited(self, headers: dict[str, str]) -> ApiError:
        return ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            "The request rate limit has been reached.",
            "We've received too many requests for this API. Please wait and try again or slow down your "
            "request rate.",
            headers=headers,
        )

    def _error(self, err: ApiError) -> Reply:
        with self.world.lock:
            self._errors += 1
            eid = self.world.uuid(f"error/{self._errors}")
        item: dict[str, Any] = {
            "id": eid,
            "status": str(err.status),
            "code": err.code,
            "title": err.title,
            "detail": err.detail,
        }
        if err.parameter is not None:
            item["source"] = {"parameter": err.parameter}
        elif err.pointer is not None:
            item["source"] = {"pointer": err.pointer}
        return err.status, {"Content-Type": "application/json", **err.headers}, _json({"errors": [item]})

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        """``/_sandbox/*``: the clock control for out-of-process clients (not part of Apple's API)."""
        hdrs = {"Content-Type": "application/json"}
        if path == "/_sandbox/advance" and method == "POST":
            try:
                args = json.loads(body or b"{}")
                days, hours = float(args.get("days", 0)), float(args.get("hours", 0))
                minutes = float(args.get("minutes", 0))
                unknown = set(args) - {"days", "hours", "minutes"}
                if unknown or days < 0 or hours < 0 or minutes < 0:
                    raise ValueError(f"unexpected {sorted(unknown)}" if unknown else "negative duration")
            except (ValueError, TypeError, AttributeError) as exc:
                return 400, hdrs, _json({"error": f"expected {{'days': N}} or {{'hours': N}}: {exc}"})
            now = self.sb.advance(days=days, hours=hours, minutes=minutes)
            return 200, hdrs, _json({"now": iso(now)})
        if path == "/_sandbox/now" and method == "GET":
            return 200, hdrs, _json({"now": iso(self.sb.now)})
        return 404, hdrs, _json({"error": "unknown control path; try POST /_sandbox/advance"})

    def _route(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        origin: str,
        key: ApiKey,
    ) -> Reply:
        found = models.match(method, path)
        if found is None:
            same_path = [ep for ep in models.ENDPOINTS if ep.pattern.match(path)]
            if same_path or path.rstrip("/") == "/v1/analyticsReportRequests":
                resource = path.strip("/").split("/")[1]
                op = (
                    "GET_COLLECTION"
                    if method == "GET" and path.rstrip("/").count("/") == 2
                    else _OPERATION.get(method, method)
                )
                ops = sorted(
                    {
                        "CREATE"
                        if e.kind == "create"
                        else "DELETE"
                        if e.kind == "delete"
                        else "GET_INSTANCE"
                        if e.kind == "instance"
                        else "GET_COLLECTION"
                        for e in models.ENDPOINTS
                        if e.path.split("/")[2] == resource and e.path.count("/") <= 3
                    }
                )
                raise ApiError(
                    403,
                    "FORBIDDEN_ERROR",
                    "The given operation is not allowed",
                    f"The resource '{resource}' does not allow '{op}'. Allowed operations are: {', '.join(ops)}",
                )
            raise ApiError(
                404,
                "NOT_FOUND",
                "The specified resource does not exist",
                "The path provided does not match a defined resource type.",
            )
        ep, id_ = found
        if key.role not in ep.roles:
            raise ApiError(
                403,
                "FORBIDDEN_ERROR",
                "This request is forbidden for security reasons",
                "The API key in use does not allow this request",
            )
        q = Query(ep, query, self._secret)
        return self._handlers[ep.name](q=q, id_=id_, origin=origin, headers=headers, body=body, path=path)

    # ------------------------------------------------------------------ documents

    def _links(self, origin: str, type_: str, id_: str, rel: str) -> dict[str, str]:
        return {
            "self": f"{origin}/v1/{type_}/{id_}/relationships/{rel}",
            "related": f"{origin}/v1/{type_}/{id_}/{rel}",
        }

    def _resource(
        self,
        type_: str,
        id_: str,
        attributes: dict[str, Any],
        relationships: dict[str, dict[str, Any]],
        origin: str,
        fields: set[str] | None,
    ) -> dict[str, Any]:
        if fields is not None:
            attributes = {k: v for k, v in attributes.items() if k in fields}
            relationships = {k: v for k, v in relationships.items() if k in fields}
        doc: dict[str, Any] = {"type": type_, "id": id_}
        if attributes:
            doc["attributes"] = attributes
        if relationships:
            doc["relationships"] = relationships
        doc["links"] = {"self": f"{origin}/v1/{type_}/{id_}"}
        return doc

    def _app_doc(self, app: dict[str, Any], q: Query, origin: str) -> dict[str, Any]:
        attrs = {k: app[k] for k in models.APPS.attributes}
        rels: dict[str, dict[str, Any]] = {
            "analyticsReportRequests": {
                "links": self._links(origin, "apps", app["id"], "analyticsReportRequests")
            }
        }
        for rel in q.include:
            # the sandbox models none of the app's other related resources: an included to-many
            # relationship is empty (a to-one has no linkage to show, and the spec has no null for it)
            if rel in q.ep.include_limits:
                limit = q.include_limits[rel]
                rels[rel] = {"meta": {"paging": {"total": 0, "limit": limit}}, "data": []}
        return self._resource("apps", app["id"], attrs, rels, origin, q.fields.get("apps"))

    def _request_doc(self, req: ReportRequest, q: Query | None, origin: str) -> dict[str, Any]:
        rel: dict[str, Any] = {"links": self._links(origin, "analyticsReportRequests", req.id, "reports")}
        if q is not None and "reports" in q.include:
            ids = self.world.report_ids(req)
            limit = q.include_limits.get("reports", DEFAULT_INCLUDE_LIMIT)
            rel["meta"] = {"paging": {"total": len(ids), "limit": limit}}
            rel["data"] = [{"type": "analyticsReports", "id": rid} for rid, _ in ids[:limit]]
        attrs = {"accessType": req.access_type.value, "stoppedDueToInactivity": self.world.is_stopped(req)}
        fields = q.fields.get("analyticsReportRequests") if q is not None else None
        return self._resource("analyticsReportRequests", req.id, attrs, {"reports": rel}, origin, fields)

    def _report_doc(self, report_id: str, spec: Any, q: Query | None, origin: str) -> dict[str, Any]:
        attrs = {"name": spec.name, "category": Category.parse(spec.category).value}
        rels = {"instances": {"links": self._links(origin, "analyticsReports", report_id, "instances")}}
        fields = q.fields.get("analyticsReports") if q is not None else None
        return self._resource("analyticsReports", report_id, attrs, rels, origin, fields)

    def _instance_doc(self, inst: Instance, q: Query, origin: str) -> dict[str, Any]:
        attrs = {"granularity": inst.granularity.value, "processingDate": inst.processing_date.isoformat()}
        rels = {"segments": {"links": self._links(origin, "analyticsReportInstances", inst.id, "segments")}}
        return self._resource(
            "analyticsReportInstances", inst.id, attrs, rels, origin, q.fields.get("analyticsReportInstances")
        )

    def _segment_doc(self, seg: Any, inst: Instance, q: Query, origin: str) -> dict[str, Any]:
        req = self._owner(inst)
        url = downloads.presign(self.world, self.sb.download_origin_for(origin), seg, inst, req)
        attrs = {"checksum": seg.checksum, "sizeInBytes": seg.size, "url": url}
        return self._resource(
            "analyticsReportSegments", seg.id, attrs, {}, origin, q.fields.get("analyticsReportSegments")
        )

    def _self(self, origin: str, path: str, q: Query) -> str:
        return f"{origin}{path}" + (f"?{q.raw}" if q.raw else "")

    def _page(
        self,
        items: list[Any],
        render: Callable[[Any], dict[str, Any]],
        q: Query,
        origin: str,
        path: str,
        extra: Callable[[list[Any]], dict[str, Any]] | None = None,
    ) -> Reply:
        page = items[q.offset : q.offset + q.limit]
        links = {"self": self._self(origin, path, q)}
        if q.offset + q.limit < len(items):
            links["next"] = f"{origin}{path}?{q.next_query(q.offset + q.limit)}"
        doc: dict[str, Any] = {"data": [render(x) for x in page]}
        if extra is not None:
            doc.update(extra(page))
        doc["links"] = links
        doc["meta"] = {"paging": {"total": len(items), "limit": q.limit}}
        return 200, {"Content-Type": "application/json"}, _json(doc)

    def _single(
        self, data: dict[str, Any], origin: str, path: str, q: Query, included: list | None = None
    ) -> Reply:
        doc: dict[str, Any] = {"data": data}
        if included is not None:
            doc["included"] = included
        doc["links"] = {"self": self._self(origin, path, q)}
        return 200, {"Content-Type": "application/json"}, _json(doc)

    # ------------------------------------------------------------------ lookups

    def _get_app(self, id_: str) -> dict[str, Any]:
        app = self.world.apps.get(id_)
        if app is None:
            raise _not_found("apps", id_)
        return app

    def _get_request(self, id_: str) -> ReportRequest:
        req = self.world.requests.get(id_)
        if req is None:
            raise _not_found("analyticsReportRequests", id_)
        return req

    def _get_report(self, id_: str) -> tuple[ReportRequest, Any]:
        found = self.world.find_report(id_)
        if found is None:
            raise _not_found("analyticsReports", id_)
        return found

    def _owner(self, inst: Instance) -> ReportRequest:
        req = self.world.requests.get(inst.request_id)
        if req is None:  # deleted by a concurrent call
            raise _not_found("analyticsReportInstances", inst.id)
        return req

    def _get_instance(self, id_: str) -> Instance:
        inst = self.world.find_instance(id_)
        if inst is None:
            raise _not_found("analyticsReportInstances", id_)
        return inst

    # ------------------------------------------------------------------ handlers

    def _apps(self, q: Query, origin: str, path: str, **_: Any) -> Reply:
        apps = list(self.world.apps.values())
        for key, values in q.filters.items():
            # a filter on related resources (appStoreVersions, reviewSubmissions) matches none: the apps have none
            apps = [a for a in apps if key in _APP_FILTERS and str(a[key]) in values]
        if any(q.exists.values()):  # exists[gameCenterEnabledVersions]=true: no app has any
            apps = []
        for s in reversed(q.sort):
            attr = s.lstrip("-")
            apps.sort(key=lambda a, k=attr: str(a[k]).casefold(), reverse=s.startswith("-"))
        extra = (lambda page: {"included": []}) if q.include else None
        return self._page(apps, lambda a: self._app_doc(a, q, origin), q, origin, path, extra=extra)

    def _app(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        included = [] if q.include else None
        return self._single(self._app_doc(self._get_app(id_), q, origin), origin, path, q, included)

    def _app_requests(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        self._get_app(id_)
        reqs = self.world.requests_of(id_)
        if "accessType" in q.filters:
            reqs = [r for r in reqs if r.access_type.value in q.filters["accessType"]]

        def included(page: list[ReportRequest]) -> dict[str, Any]:
            if "reports" not in q.include:
                return {}
            out, seen = [], set()
            limit = q.include_limits.get("reports", DEFAULT_INCLUDE_LIMIT)
            for req in page:
                for rid, spec in self.world.report_ids(req)[:limit]:
                    if rid not in seen:
                        seen.add(rid)
                        out.append(self._report_doc(rid, spec, q, origin))
            return {"included": out}

        return self._page(reqs, lambda r: self._request_doc(r, q, origin), q, origin, path, extra=included)

    def _app_request_links(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        self._get_app(id_)
        reqs = self.world.requests_of(id_)
        return self._page(reqs, lambda r: {"type": "analyticsReportRequests", "id": r.id}, q, origin, path)

    def _create(
        self, q: Query, origin: str, headers: dict[str, str], body: bytes, path: str, **_: Any
    ) -> Reply:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported Media Type",
                "Make sure the Content-Type header in the request is application/json",
            )
        app_id, access = self._create_body(body)
        try:
            req = self.world.create_request(app_id, access)
        except ConflictError as exc:
            raise ApiError(
                409,
                exc.code,
                "The request cannot be fulfilled because of the state of another resource.",
                exc.detail,
            ) from None
        location = f"{origin}/v1/analyticsReportRequests/{req.id}"
        doc_out = {"data": self._request_doc(req, None, origin), "links": {"self": f"{origin}{path}"}}
        return 201, {"Content-Type": "application/json", "Location": location}, _json(doc_out)

    def _entity_error(self, code: str, detail: str, *pointer: str) -> ApiError:
        """An ``ENTITY_ERROR.*`` answer at the JSON pointer built from ``pointer``'s members."""
        return _entity(self.entity_error_status, code, detail, _pointer(*pointer))

    def _create_body(self, body: bytes) -> tuple[str, AccessType]:
        """Check a create document member by member (AnalyticsReportRequestCreateRequest); 4xx, never 5xx.

        Every failure names its place with ``source.pointer``: a body that is not JSON (or not an
        object) is 422 ``ENTITY_UNPROCESSABLE`` at ``""``; a document of the wrong shape is an
        ``ENTITY_ERROR.*`` at the member that is missing, of the wrong JSON type, unknown or invalid.
        """
        doc = _load_json(body)
        if not isinstance(doc, dict):
            raise _entity(
                422,
                "ENTITY_UNPROCESSABLE",
                f"The request entity must be a JSON object with a 'data' member, not {_kind(doc)}.",
                "",
            )
        self._only(doc, {"data"}, "ENTITY_ERROR.UNKNOWN")
        data = self._member(doc, "data", dict, "ENTITY_ERROR")
        self._only(data, {"type", "attributes", "relationships"}, "ENTITY_ERROR.UNKNOWN", "data")
        type_ = self._member(data, "type", str, "ENTITY_ERROR", "data")
        if type_ != "analyticsReportRequests":
            raise self._entity_error(
                "ENTITY_ERROR.TYPE.INVALID",
                f"'{type_}' is not a valid resource type; expected 'analyticsReportRequests'.",
                "data",
                "type",
            )
        attrs = self._member(data, "attributes", dict, "ENTITY_ERROR", "data")
        self._only(
            attrs,
            {"accessType"},
            "ENTITY_ERROR.ATTRIBUTE.UNKNOWN",
            "data",
            "attributes",
            what="attribute on the resource 'analyticsReportRequests'",
        )
        access = self._member(attrs, "accessType", str, "ENTITY_ERROR.ATTRIBUTE", "data", "attributes")
        if access not in {a.value for a in AccessType}:
            raise self._entity_error(
                "ENTITY_ERROR.ATTRIBUTE.INVALID",
                f"'{access}' is not a valid value for the attribute 'accessType'; expected "
                "one of ONE_TIME_SNAPSHOT, ONGOING.",
                "data",
                "attributes",
                "accessType",
            )
        rels = self._member(data, "relationships", dict, "ENTITY_ERROR", "data")
        self._only(
            rels,
            {"app"},
            "ENTITY_ERROR.RELATIONSHIP.UNKNOWN",
            "data",
            "relationships",
            what="relationship on the resource 'analyticsReportRequests'",
        )
        where = ("data", "relationships", "app")
        app = self._member(rels, "app", dict, "ENTITY_ERROR.RELATIONSHIP", *where[:2])
        self._only(app, {"data"}, "ENTITY_ERROR.RELATIONSHIP.INVALID", *where)
        linkage = self._member(app, "data", dict, "ENTITY_ERROR.RELATIONSHIP", *where)
        self._only(linkage, {"type", "id"}, "ENTITY_ERROR.RELATIONSHIP.INVALID", *where, "data")
        link_type = self._member(linkage, "type", str, "ENTITY_ERROR.RELATIONSHIP", *where, "data")
        if link_type != "apps":
            raise self._entity_error(
                "ENTITY_ERROR.RELATIONSHIP.INVALID",
                f"'{link_type}' is not a valid type for the relationship 'app'; expected 'apps'.",
                *where,
                "data",
                "type",
            )
        app_id = self._member(linkage, "id", str, "ENTITY_ERROR.RELATIONSHIP", *where, "data")
        if app_id not in self.world.apps:
            raise self._entity_error(
                "ENTITY_ERROR.RELATIONSHIP.INVALID",
                f"There is no app with id '{app_id}'.",
                *where,
                "data",
                "id",
            )
        return app_id, AccessType(access)

    def _member(self, obj: dict[str, Any], name: str, kind: type, family: str, *parent: str) -> Any:
        """``obj[name]``, present and of JSON type ``kind``; else ``<family>.REQUIRED`` / ``.TYPE`` / ``.INVALID``."""
        if name not in obj:
            raise self._entity_error(f"{family}.REQUIRED", f"'{name}' is required.", *parent, name)
        value = obj[name]
        if not isinstance(value, kind):
            # an attribute of the wrong JSON type is ATTRIBUTE.TYPE (as Apple answers); anything else is INVALID
            code = f"{family}.TYPE" if family.endswith("ATTRIBUTE") else f"{family}.INVALID"
            expected = "an object" if kind is dict else "a string"
            raise self._entity_error(code, f"'{name}' must be {expected}, not {_kind(value)}.", *parent, name)
        return value

    def _only(
        self, obj: dict[str, Any], allowed: set[str], code: str, *parent: str, what: str = "member"
    ) -> None:
        """Refuse the first member of ``obj`` (in document order) that is not in ``allowed``."""
        for name in obj:
            if name not in allowed:
                raise self._entity_error(
                    code,
                    f"'{name}' is not a valid {what} here; expected {', '.join(sorted(allowed))}.",
                    *parent,
                    name,
                )

    def _request(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        req = self._get_request(id_)
        included = None
        if "reports" in q.include:
            limit = q.include_limits.get("reports", DEFAULT_INCLUDE_LIMIT)
            included = [
                self._report_doc(rid, spec, q, origin) for rid, spec in self.world.report_ids(req)[:limit]
            ]
        return self._single(self._request_doc(req, q, origin), origin, path, q, included)

    def _delete(self, id_: str, **_: Any) -> Reply:
        self._get_request(id_)
        self.world.delete_request(id_)
        return 204, {}, b""

    def _reports(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        req = self._get_request(id_)
        self.world.touch(req)
        reports = self.world.report_ids(req)
        if "name" in q.filters:
            reports = [r for r in reports if r[1].name in q.filters["name"]]
        if "category" in q.filters:
            reports = [r for r in reports if Category.parse(r[1].category).value in q.filters["category"]]
        return self._page(reports, lambda r: self._report_doc(r[0], r[1], q, origin), q, origin, path)

    def _report_links(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        req = self._get_request(id_)
        self.world.touch(req)
        return self._page(
            self.world.report_ids(req), lambda r: {"type": "analyticsReports", "id": r[0]}, q, origin, path
        )

    def _report(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        req, spec = self._get_report(id_)
        self.world.touch(req)
        return self._single(self._report_doc(id_, spec, q, origin), origin, path, q)

    def _live_instances(self, id_: str) -> list[Instance]:
        req, spec = self._get_report(id_)
        self.world.touch(req)
        return self.world.instances_of(req, spec)

    def _instances(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        insts = self._live_instances(id_)
        if "granularity" in q.filters:
            wanted = {Granularity.parse(g) for g in q.filters["granularity"]}
            insts = [i for i in insts if i.granularity in wanted]
        if "processingDate" in q.filters:
            days = {date.fromisoformat(d) for d in q.filters["processingDate"]}
            insts = [i for i in insts if i.processing_date in days]
        return self._page(insts, lambda i: self._instance_doc(i, q, origin), q, origin, path)

    def _instance_links(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        insts = self._live_instances(id_)
        return self._page(insts, lambda i: {"type": "analyticsReportInstances", "id": i.id}, q, origin, path)

    def _instance(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        inst = self._get_instance(id_)
        self.world.touch(self._owner(inst))
        return self._single(self._instance_doc(inst, q, origin), origin, path, q)

    def _segments(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        inst = self._get_instance(id_)
        self.world.touch(self._owner(inst))
        segs = self.world.segments_of(inst)
        return self._page(segs, lambda s: self._segment_doc(s, inst, q, origin), q, origin, path)

    def _segment_links(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        inst = self._get_instance(id_)
        self.world.touch(self._owner(inst))
        segs = self.world.segments_of(inst)
        return self._page(segs, lambda s: {"type": "analyticsReportSegments", "id": s.id}, q, origin, path)

    def _segment(self, q: Query, id_: str, origin: str, path: str, **_: Any) -> Reply:
        found = self.world.find_segment(id_)
        if found is None:
            raise _not_found("analyticsReportSegments", id_)
        seg, inst = found
        self.world.touch(self._owner(inst))
        return self._single(self._segment_doc(seg, inst, q, origin), origin, path, q)
