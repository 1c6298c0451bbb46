"""``connect()``: the one entry point, where the environment, credentials and the sandbox meet.

It reads the environment through :mod:`asc_nb.config` (the only reader of ``ASC_*`` variables),
picks Apple, a given sandbox or a fresh embedded one, and builds the :class:`~asc_nb.Client`
with explicit arguments. ``asc_nb.connect`` is this function; the widgets call it too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import config
from .auth import Credentials
from .client import Client
from .errors import ConfigError
from .models import API_BASE_URL

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from .sandbox import Sandbox

__all__ = ["SANDBOX_NOTICE", "connect"]

SANDBOX_NOTICE = (
    "asc_nb: sandbox mode — no App Store Connect credentials found, so this client talks to a simulated "
    "App Store Connect with generated data. Set ASC_KEY_ID, ASC_ISSUER_ID and ASC_PRIVATE_KEY_PATH to use Apple."
)
_announced = False
#: the embedded default sandbox starts with this much history: every app holds an ONGOING request
#: created this many days ago, so ``connect()`` + ``fetch`` of the last weeks returns data at once
DEFAULT_SANDBOX_HISTORY_DAYS = 28


class _Notice:
    """The sandbox notice as a quiet info line in a notebook (fixed text: nbval-stable)."""

    def __repr__(self) -> str:
        return SANDBOX_NOTICE

    def _repr_html_(self) -> str:
        import html

        # no symbol glyph (U+24D8 and friends): fonts without it draw an empty box; an accent border marks it
        return (
            '<div class="asc-nb-notice" style="color: var(--jp-ui-font-color2, #666); '
            "font-size: var(--jp-ui-font-size1, 12px); padding: 2px 8px; "
            'border-left: 3px solid var(--jp-brand-color1, #1976d2);">'
            f"{html.escape(SANDBOX_NOTICE)}</div>"
        )


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter kernel (where stderr shows as a red box)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def _announce_sandbox() -> None:
    """Say once per process that the data is simulated: a quiet info line in a notebook, else on stderr."""
    global _announced
    if not _announced:
        _announced = True
        if _in_kernel():
            from IPython.display import display

            display(_Notice())
        else:
            print(SANDBOX_NOTICE, file=sys.stderr)


def connect(
    credentials: Credentials | None = None,
    *,
    key_id: str | None = None,
    issuer_id: str | None = None,
    private_key: Any = None,
    individual: bool = False,
    sandbox: Sandbox | None = None,
    base_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    **client_options: Any,
) -> Client:
    """A :class:`Client` for the first of: explicit credentials (a :class:`Credentials` or
    ``key_id``/``issuer_id``/``private_key``), a given ``sandbox``, ``ASC_*`` environment
    variables, or a fresh embedded :class:`Sandbox` (announced once: an info line in a notebook, else on
    stderr) whose apps each hold an ONGOING request made ``DEFAULT_SANDBOX_HISTORY_DAYS`` ago.

    ``base_url`` (or ``ASC_BASE_URL``) points at another server, e.g. the sandbox CLI on
    127.0.0.1; ``cache_dir`` (or ``ASC_NB_CACHE_DIR``) is where downloads are cached.
    ``transport`` (an ``httpx.BaseTransport``: a recorder, a proxy, a test double) carries every
    request, to the API and to the download host alike. The environment (``environ``, default
    ``os.environ``) is read through :mod:`asc_nb.config` only. Other keyword arguments go to
    :class:`Client` (``timeout``, ``retry``, ``sleep``, ``scope``, ``pacer``).
    """
    env = config.read(environ)
    if base_url is None and sandbox is None:
        base_url = env.base_url or None
    cache_dir = config.cache_dir(cache_dir, environ)
    if credentials is not None and any(v is not None for v in (key_id, issuer_id, private_key)):
        raise ConfigError("Pass either credentials= or key_id/issuer_id/private_key, not both")
    if credentials is None and any(v is not None for v in (key_id, issuer_id, private_key)):
        if private_key is None:
            raise ConfigError(
                "private_key= is required with key_id/issuer_id (PEM text or a path to the .p8 file)"
            )
        credentials = Credentials(key_id, issuer_id, private_key, individual=individual, source="arguments")
    if credentials is None and sandbox is None:
        if env.has_credentials:
            credentials = Credentials.from_env(environ)
        elif base_url is not None:
            raise ConfigError(
                f"ASC_BASE_URL/base_url is {base_url} but no credentials were found: set ASC_KEY_ID, "
                "ASC_ISSUER_ID and ASC_PRIVATE_KEY_PATH (the sandbox CLI writes them with --write-credentials)"
            )
        else:
            from .sandbox import Sandbox

            sandbox = Sandbox(history_days=DEFAULT_SANDBOX_HISTORY_DAYS)
            _announce_sandbox()
    if base_url is None and sandbox is None:
        base_url = API_BASE_URL
    return Client(
        credentials,
        sandbox=sandbox,
        base_url=base_url,
        cache_dir=cache_dir,
        transport=transport,
        **client_options,
    )
