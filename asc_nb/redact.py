"""Keep presigned download URLs out of logs and reprs.

A segment URL's query (``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``) is a
short-lived credential: anyone holding it may download the file. httpx logs every request URL at
INFO, so the filter below rewrites those records on the ``httpx`` logger before any handler sees
them; the API's own URLs (no credential in them) are left as they are.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["redact_url", "redact_text", "install_log_redaction"]

#: query parameters that make a URL a credential (S3 presigned URLs and the like)
_PRESIGNED = re.compile(r"(?i)(x-amz-|signature=|awsaccesskeyid=|x-goog-)")
#: a URL's query in running text
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]+)\?([^\s#\"'<>]*)")


def redact_url(url: object) -> str:
    """``https://host/path?X-Amz-Signature=…`` → ``https://host/path?…`` (other URLs unchanged)."""
    text = str(url)
    base, sep, query = text.partition("?")
    return f"{base}?…" if sep and _PRESIGNED.search(query) else text


def redact_text(text: str) -> str:
    """Every presigned URL query inside ``text`` replaced by ``…``."""
    return _URL_QUERY.sub(lambda m: f"{m.group(1)}?…" if _PRESIGNED.search(m.group(2)) else m.group(0), text)


class _RedactPresigned(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_text(record.msg)
        return True


def _clean(arg: Any) -> Any:
    text = str(arg) if not isinstance(arg, (int, float)) else ""
    return redact_text(text) if "?" in text and _PRESIGNED.search(text) else arg


_FILTER = _RedactPresigned()


def install_log_redaction(*names: str) -> None:
    """Add the filter to the loggers that print request URLs (idempotent)."""
    for name in names or ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
