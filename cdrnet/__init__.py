"""cdrnet: find hidden people networks in telecom data-session dumps (GPRS CDR / IPDR).

``cdrnet.Case`` is the Python API (see docs/notebook.ipynb); it is imported on first
use so that ``import cdrnet`` stays light for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Case", "__version__", "open_store"]

if TYPE_CHECKING:
    from cdrnet.api import Case
    from cdrnet.store import open_store


def __getattr__(name: str) -> Any:
    if name == "Case":
        from cdrnet.api import Case

        return Case
    if name == "open_store":
        from cdrnet.store import open_store

        return open_store
    raise AttributeError(f"module 'cdrnet' has no attribute {name!r}")
