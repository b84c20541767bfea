"""Workspaces written by an older cdrnet: their cell keys are read in today's scheme.

Before the cell key scheme 2 (cdrnet/model.py ``CELL_KEY_SCHEME``) an LTE cell written with its
TAC kept it in its key (``404-70-166-1234567``) and Jio's hex ids kept the 3-digit MNC field's
padding (``404-070-1234567``); today both are ``404-70-1234567``. Files carry the scheme in their
schema metadata; files without it are brought to the scheme when read, so an old workspace joins
today's site lists and dumps without being ingested again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.loader.cells import GSM_CI_MAX, current_keys, upgrade_stored_cells
from cdrnet.model import CELL_KEY_SCHEME
from cdrnet.synth.writers import render
from cdrnet.workspace import Workspace
from graph.bulk import _read_sessions, workspace_dumps
from tests.conftest import SIM_ORDER, ingest, make_sessions

CELLS_TODAY = ["404-70-1234567", "404-70-166-12345", "405-874-59160123", "CHANDNI CHOWK"]
#: What an older cdrnet stored for the same cells (TAC kept, MNC field padding kept).
CELLS_BEFORE = ["404-70-166-1234567", "404-70-166-12345", "405-874-7-59160123", "CHANDNI CHOWK"]


def test_current_keys_fold_old_forms_and_keep_todays():
    old = pd.Series(CELLS_BEFORE + ["404-070-1234567", "404-070-12345", "", None], dtype="string")
    new = current_keys(old)
    assert new.iloc[:4].tolist() == CELLS_TODAY
    assert new.iloc[4] == "404-70-1234567"  # Jio's hex, cut with the padding by an older cdrnet
    assert new.iloc[5] == "404-070-12345"  # a GSM-sized CI is not an ECGI from hex: left alone
    assert new.iloc[6] == "" and pd.isna(new.iloc[7])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["404-70", "405-874", "404-10"]), st.integers(1, 65535), st.integers(0, 268435455))
def test_current_keys_is_idempotent_and_drops_only_an_eci_tac(net, tac, ci):
    key = pd.Series([f"{net}-{tac}-{ci}"], dtype="string")
    once = current_keys(key)
    assert current_keys(once).equals(once)
    assert once.iloc[0] == (f"{net}-{ci}" if ci > GSM_CI_MAX else f"{net}-{tac}-{ci}")


def _as_older_cdrnet_wrote(path: Path, column: str) -> None:
    """Rewrite a stored file as an older cdrnet had it: old-form cell keys, no scheme metadata."""
    table = pq.read_table(path)
    back = dict(zip(CELLS_TODAY, CELLS_BEFORE, strict=True))
    old = [back.get(k, k) for k in table[column].to_pylist()]
    table = table.set_column(table.column_names.index(column), column, pa.array(old, type=pa.string()))
    pq.write_table(table.replace_schema_metadata(None), path)


def test_old_workspace_sessions_read_in_todays_keys(ws: Workspace, tmp_path: Path):
    s = make_sessions(8)
    s["cell_id"] = [CELLS_TODAY[i % 3] for i in range(len(s))]
    (tmp_path / "a.csv").write_text(render(s, "airtel"))
    ingest(ws, tmp_path / "a.csv", date_order=SIM_ORDER)
    today = ws.sessions()["cell_id"].tolist()
    assert set(today) == set(CELLS_TODAY[:3])
    scheme = pq.read_schema(next(iter(ws.dump_files()))[1]).metadata[b"cdrnet.cell_keys"]
    assert scheme == CELL_KEY_SCHEME[b"cdrnet.cell_keys"]

    _as_older_cdrnet_wrote(next(iter(ws.dump_files()))[1], "cell_id")
    raw = pq.read_table(next(iter(ws.dump_files()))[1])["cell_id"].to_pylist()
    assert "405-874-7-59160123" in raw  # the file really holds the old form
    assert Workspace(ws.root).sessions()["cell_id"].tolist() == today
    table, _ = _read_sessions(workspace_dumps(ws.root))  # the bulk import's reader too
    assert table["cell_id"].to_pylist() == today


def test_current_files_are_returned_untouched():
    table = pa.table({"cell_id": ["404-70-166-1234567"]}).replace_schema_metadata(CELL_KEY_SCHEME)
    assert upgrade_stored_cells(table) is table  # today's scheme: no rewrite, even of a key it would fold


def test_old_site_list_uses_its_radio():
    old = pa.table({"cell_id": ["404-70-166-1234", "404-70-166-1234", "404-70-5-99999"],
                    "radio": ["LTE", "GSM", "UMTS"]})
    assert upgrade_stored_cells(old)["cell_id"].to_pylist() == ["404-70-1234", "404-70-166-1234", "404-70-99999"]
