"""Old import path, kept working: this module *is* :mod:`asc_nb.data.export` (one object, so patches apply)."""

import sys

from asc_nb.data import export as _impl

sys.modules[__name__] = _impl
