"""Serve cdrnet's Neo4j Browser guide, style and Favorites zip to the local Browser (127.0.0.1 only).

Started by scripts/neo4j-local. Browser fetches ``:play`` guides and ``:style`` sheets
from another origin, so the answers carry a CORS header naming the Browser's origin
(and no other). Standard library only: it runs before any virtual environment exists.

    python3 scripts/guide-server.py PORT BROWSER_ORIGIN
"""

from __future__ import annotations

import http.server
import io
import sys
import zipfile
from pathlib import Path

CYPHER = Path(__file__).resolve().parents[1] / "cypher"
PLACEHOLDER = "__CDRNET_GUIDE_BASE__"


def files(base: str) -> dict[str, tuple[bytes, str]]:
    """Path -> (body, content type), read from the repository's cypher/ folder at each request."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted((CYPHER / "queries").glob("*.cypher")):
            z.writestr(f"cdrnet/{p.name}", p.read_text(encoding="utf-8"))
    guide = (CYPHER / "browser-guide.html").read_text(encoding="utf-8").replace(PLACEHOLDER, base)
    return {"/cdrnet-guide.html": (guide.encode(), "text/html; charset=utf-8"),
            "/cdrnet-style.grass": ((CYPHER / "browser-style.grass").read_bytes(), "text/plain; charset=utf-8"),
            "/cdrnet-queries.zip": (buf.getvalue(), "application/zip")}


def main(port: int, origin: str) -> None:
    base = f"http://127.0.0.1:{port}"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            found = files(base).get(self.path.split("?")[0])
            if found is None:
                self.send_error(404)
                return
            body, ctype = found
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_OPTIONS(self) -> None:  # noqa: N802 - Browser's CORS preflight (it sends custom headers)
            self.send_response(204)
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Methods", "GET, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", ""))
            self.send_header("Access-Control-Max-Age", "600")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
