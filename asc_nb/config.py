"""Every setting asc-nb takes from the environment, read here and nowhere else.

``connect()``, ``Credentials.from_env``, the default cache directory and the default progress
bar all go through :func:`read`, so a variable is spelled once and an ``environ=`` mapping
(tests, several accounts in one process) replaces ``os.environ`` everywhere at once. The
:class:`~asc_nb.Client` itself reads no environment: it takes explicit arguments.

=====================  =====================================================================
``ASC_KEY_ID``         the API key's id (10 characters)
``ASC_ISSUER_ID``      the team's issuer id (a UUID); not for ``ASC_KEY_TYPE=individual``
``ASC_PRIVATE_KEY_PATH`` / ``ASC_PRIVATE_KEY`` / ``ASC_PRIVATE_KEY_B64``  the key (one of them)
``ASC_KEY_TYPE``       ``individual`` for an individual key
``ASC_BASE_URL``       another API server (a proxy, the sandbox CLI on 127.0.0.1)
``ASC_NB_CACHE_DIR``   where verified segment files are kept
``ASC_NB_PROGRESS``    ``0``/``false``/``no``/``off`` turns the default progress bars off
``ASC_NB_STORE``       the default directory of :class:`asc_nb.Store` (:func:`store_dir`)
=====================  =====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CREDENTIAL_VARS", "Environment", "cache_dir", "read", "store_dir"]

#: the variables that hold (part of) a key: any of them set means "use Apple", never the sandbox
CREDENTIAL_VARS = (
    "ASC_KEY_ID",
    "ASC_ISSUER_ID",
    "ASC_PRIVATE_KEY_PATH",
    "ASC_PRIVATE_KEY",
    "ASC_PRIVATE_KEY_B64",
)
_OFF = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Environment:
    """The asc-nb variables of one environment, stripped; ``""`` when unset."""

    key_id: str = ""
    issuer_id: str = ""
    private_key_path: str = ""
    private_key: str = ""
    private_key_b64: str = ""
    key_type: str = ""
    base_url: str = ""
    cache_dir: str = ""
    progress: str = ""

    @property
    def has_credentials(self) -> bool:
        """Any credential variable is set (then it must be complete: no silent fall-back to the sandbox)."""
        return any(
            (self.key_id, self.issuer_id, self.private_key_path, self.private_key, self.private_key_b64)
        )

    @property
    def progress_off(self) -> bool:
        return self.progress.lower() in _OFF


def read(environ: Mapping[str, str] | None = None) -> Environment:
    """The asc-nb variables of ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        return (env.get(name) or "").strip()

    return Environment(
        key_id=get("ASC_KEY_ID"),
        issuer_id=get("ASC_ISSUER_ID"),
        private_key_path=get("ASC_PRIVATE_KEY_PATH"),
        private_key=get("ASC_PRIVATE_KEY"),
        private_key_b64=get("ASC_PRIVATE_KEY_B64"),
        key_type=get("ASC_KEY_TYPE"),
        base_url=get("ASC_BASE_URL"),
        cache_dir=get("ASC_NB_CACHE_DIR"),
        progress=get("ASC_NB_PROGRESS"),
    )


def cache_dir(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """``explicit``, else ``ASC_NB_CACHE_DIR``, else the platform's per-user cache directory for asc-nb."""
    if explicit is not None:
        return Path(explicit).expanduser()
    configured = read(environ).cache_dir
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("asc-nb", appauthor=False))


def store_dir(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """``explicit``, else ``ASC_NB_STORE``, else ``<platform user data dir>/asc-nb/store`` (see :class:`asc_nb.Store`)."""
    if explicit is not None:
        return Path(explicit).expanduser()
    configured = ((os.environ if environ is None else environ).get("ASC_NB_STORE") or "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("asc-nb", appauthor=False)) / "store"
