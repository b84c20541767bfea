"""Offline assets: the vis-network library that pyvis ships, inlined into our pages.

pyvis's own templates fetch Bootstrap and vis from CDNs even with
``cdn_resources="in_line"``; analysts on air-gapped machines need pages that
make no request at all, so the JS and CSS are read from the installed pyvis
package and embedded.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

VIS_VERSION = "9.1.2"


@lru_cache(maxsize=1)
def vis_js() -> str:
    return (resources.files("pyvis") / "lib" / f"vis-{VIS_VERSION}" / "vis-network.min.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def vis_css() -> str:
    return (resources.files("pyvis") / "lib" / f"vis-{VIS_VERSION}" / "vis-network.css").read_text(encoding="utf-8")


def script_json(value: object) -> str:
    """JSON that is safe inside a <script> element whatever the data holds."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
