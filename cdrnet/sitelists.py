"""Imported cell-site lists (CGI charts, OpenCelliD/MLS exports), kept beside either store.

A list is reference data, not case evidence: an OpenCelliD export of one country holds
millions of cells of which a case touches a few hundred. So both stores keep the lists the
same way, in the case folder (``WORKSPACE/cells/``: one Parquet table, one JSON report and
one rejects CSV per list, keyed by the file's SHA-256, written atomically), and the graph
store also writes each case cell's resulting position onto its ``Cell`` node.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cdrnet.csvsafe import csv_text
from cdrnet.errors import WorkspaceError
from cdrnet.files import atomic_write_bytes
from cdrnet.loader.cells import upgrade_stored_cells
from cdrnet.loader.cellsites import SITE_COLUMNS, CellList, CellListReport
from cdrnet.model import CELL_KEY_SCHEME
from cdrnet.rejects import REJECT_COLUMNS

SITE_SCHEMA = pa.schema([
    ("cell_id", pa.string()), ("cell_raw", pa.string()), ("lat", pa.float64()), ("lon", pa.float64()),
    ("radio", pa.string()), ("site_name", pa.string()), ("address", pa.string()), ("azimuth", pa.string()),
    ("status", pa.string()), ("range_m", pa.float64()), ("source", pa.string()), ("list_sha256", pa.string()),
    ("source_line", pa.int64()),
], metadata=CELL_KEY_SCHEME)
assert SITE_SCHEMA.names == SITE_COLUMNS


class SiteListFolder:
    """``<root>/<sha256>.parquet`` + ``.json`` (report) + ``_rejects.csv`` for each imported list."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def has(self, sha: str) -> bool:
        return (self.root / f"{sha}.json").exists()

    def rejects_path(self, sha: str) -> Path:
        return self.root / f"{sha}_rejects.csv"

    def save(self, cl: CellList) -> None:
        """Keep one parsed list; the report is written last, so a list counts only once complete."""
        sha = cl.report.sha256
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            sink = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_pandas(cl.sites[SITE_COLUMNS], schema=SITE_SCHEMA, preserve_index=False),
                           sink, compression="zstd")
            atomic_write_bytes(self.root / f"{sha}.parquet", sink.getvalue().to_pybytes())
            rej = cl.rejects.assign(file=cl.report.name, sha256=sha, part=cl.report.part)[REJECT_COLUMNS]
            atomic_write_bytes(self.rejects_path(sha), csv_text(rej).encode("utf-8"))
            atomic_write_bytes(self.root / f"{sha}.json", json.dumps(cl.report.to_dict(), indent=2).encode())
        except OSError as exc:
            raise WorkspaceError(f"cannot write the cell-site list to {self.root}: {exc.strerror}") from exc

    def reports(self) -> list[CellListReport]:
        """Every imported list, oldest import first."""
        if not self.root.exists():
            return []
        out = [CellListReport.from_dict(json.loads(p.read_text())) for p in self.root.glob("*.json")]
        return sorted(out, key=lambda r: (r.imported_at, r.name))

    def sites(self) -> pd.DataFrame:
        """Every imported position (SITE_COLUMNS), in import order."""
        files = [self.root / f"{r.sha256}.parquet" for r in self.reports()]
        frames = [upgrade_stored_cells(pq.read_table(p)).to_pandas() for p in files if p.exists()]
        if not frames:
            return pa.Table.from_pylist([], schema=SITE_SCHEMA).to_pandas()
        return pd.concat(frames, ignore_index=True)


class SiteListsMixin:
    """The store methods for cell-site lists both stores share (``self.site_lists`` is their folder)."""

    site_lists: SiteListFolder
    #: Whether the store keeps the case cells' positions itself (``write_places``) or places them when asked.
    stores_places = False

    def cell_lists(self) -> list[CellListReport]:
        return self.site_lists.reports()

    def has_cell_list(self, sha: str) -> bool:
        return self.site_lists.has(sha)

    def import_cell_list(self, cell_list: CellList) -> None:
        self.site_lists.save(cell_list)

    def cell_sites(self) -> pd.DataFrame:
        return self.site_lists.sites()
