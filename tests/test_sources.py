"""Files, folders, archives and spreadsheets, and re-ingest idempotence."""

from __future__ import annotations

import gzip
import io
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from cdrnet.synth.writers import render
from tests.conftest import ingest, make_sessions


def test_folder_recursive_zip_gz(ws, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text(render(make_sessions(5, msisdn="919800000001"), "paper"))
    (src / "sub" / "b.csv.gz").write_bytes(
        gzip.compress(render(make_sessions(6, msisdn="919800000002"), "vi").encode()))
    with zipfile.ZipFile(src / "c.zip", "w") as z:
        z.writestr("x/c1.csv", render(make_sessions(7, msisdn="919800000003"), "airtel"))
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as z2:
            z2.writestr("deep.csv", render(make_sessions(3, msisdn="919800000004"), "jio"))
        z.writestr("inner.zip", inner.getvalue())
        z.writestr("../../evil.csv", "MSISDN\n1\n")
    (src / "notes.docx").write_bytes(b"x")
    res = ingest(ws, src)
    assert not res.failed
    assert sorted(r.loaded for r in res.loaded) == [3, 5, 6, 7]
    refused = {r.name.rsplit("in/", 1)[-1]: r.reason for r in res.refused}
    assert "path traversal" in refused["c.zip!../../evil.csv"]
    assert "unsupported file type" in refused["notes.docx"]
    assert not (tmp_path / "evil.csv").exists()
    assert any(r.name.endswith("c.zip!inner.zip!deep.csv") for r in res.loaded)


def test_xlsx_with_several_sheets(ws, tmp_path):
    wb = Workbook()
    sheet = wb.active
    sheet.title = "IPDR"
    for line in render(make_sessions(4), "paper").splitlines():
        sheet.append(line.split(","))
    notes = wb.create_sheet("Notes")
    notes.append(["Prepared for case 42"])
    notes.append(["nothing else"])
    second = wb.create_sheet("More")
    for line in render(make_sessions(3, msisdn="919800000009", seed=5), "paper").splitlines():
        second.append(line.split(","))
    p = tmp_path / "book.xlsx"
    wb.save(p)
    rep = ingest(ws, p).loaded[0]
    assert rep.loaded == 7 and rep.sheets == ["IPDR", "More"] and rep.accounted
    assert rep.nondata == 2 + 2  # two headers + the notes sheet's two lines
    got = ws.sessions()
    assert set(got["source_part"]) == {"IPDR", "More"}


def test_reingest_changes_nothing(ws, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(render(make_sessions(10), "paper"))
    first = ingest(ws, p)
    before = {f.name: f.read_bytes() for f in (ws.root / "dumps").iterdir()}
    second = ingest(ws, p)
    assert len(first.loaded) == 1 and not second.loaded and second.unchanged[0][1] == first.loaded[0].sha256
    assert {f.name: f.read_bytes() for f in (ws.root / "dumps").iterdir()} == before


def test_overlapping_resend_is_reported_and_not_duplicated(ws, tmp_path):
    s = make_sessions(10)
    (tmp_path / "a.csv").write_text(render(s.iloc[:6], "paper"))
    (tmp_path / "b.csv").write_text(render(s.iloc[3:], "paper"))
    res = ingest(ws, tmp_path / "a.csv", tmp_path / "b.csv")
    assert [r.duplicates_of_other_dumps for r in res.loaded] == [0, 3]
    assert len(ws.sessions()) == 10
    assert len(ws.sessions(dedupe=False)) == 13
    # The three sessions both deliver are the first-ingested dump's copies, and the summary says so.
    first = res.loaded[0].sha256
    assert (ws.sessions()["dump_sha256"] == first).sum() == 6
    assert ("  sessions already present in other dumps (overlap): 3 (one session each; where the copies differ, "
            "the first-ingested dump's is kept)") in res.loaded[1].summary_lines()


def test_a_dump_read_again_after_its_file_was_lost_keeps_its_place_and_its_copies(ws, tmp_path):
    """The first dump's sessions file is lost (a damaged workspace): ingested again, it keeps when
    it was first ingested, so its copies of the sessions a later re-send also delivers stay the
    kept ones (the order decides: cdrnet/workspace.py ``_ingest_order``)."""
    from cdrnet.synth.resend import write_resend

    s = make_sessions(12)
    (tmp_path / "a.csv").write_text(render(s, "paper"))
    assert write_resend(tmp_path / "a.csv", tmp_path / "b.csv", from_share=0, blank_every=2) > 0  # cells blanked
    first, later = ingest(ws, tmp_path / "a.csv", tmp_path / "b.csv").loaded
    kept = ws.sessions()[["session_key", "cell_id", "dump_sha256"]]
    assert set(kept["dump_sha256"]) == {first.sha256}
    assert ws.first_ingested(first.sha256) == first.first_ingested_at == first.ingested_at
    (ws.dumps_dir / f"{first.sha256}.parquet").unlink()
    assert not ws.has_dump(first.sha256) and ws.first_ingested(first.sha256) == first.first_ingested_at
    again = ingest(ws, tmp_path / "a.csv").loaded[0]
    assert again.ingested_at > later.ingested_at and again.first_ingested_at == first.first_ingested_at
    assert ws.sessions()[["session_key", "cell_id", "dump_sha256"]].equals(kept)
    assert ws.first_ingested("0" * 64) == ""


def test_session_key_is_stable_across_layout_files(ws, tmp_path):
    s = make_sessions(5)
    (tmp_path / "a.csv").write_text(render(s, "paper"))
    (tmp_path / "b.csv").write_text(render(s, "paper", delimiter=";"))
    ingest(ws, tmp_path / "a.csv", tmp_path / "b.csv")
    both = ws.sessions(dedupe=False)
    keys = both.groupby("dump_sha256")["session_key"].apply(lambda k: sorted(k)).tolist()
    assert keys[0] == keys[1] and len(set(keys[0])) == 5


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([0, 1, 1000, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7]),
       seed=st.integers(0, 2**32 - 1), readinto=st.booleans())
def test_sha256_of_reads_into_one_buffer(size, seed, readinto):
    """The dump's SHA-256 is the hash of its bytes whatever the chunking: sizes at the buffer's
    bounds, and streams without ``readinto`` (read in chunks as before)."""
    import hashlib
    import random

    from cdrnet.loader.sources import _sha256_of

    data = random.Random(seed).randbytes(size)

    class ReadOnly:  # a stream offering read() only
        def __init__(self) -> None:
            self._fh = io.BytesIO(data)

        def read(self, n: int) -> bytes:
            return self._fh.read(min(n, 4096))  # short reads, as a decompressor gives

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    opener = (lambda: io.BufferedReader(io.BytesIO(data))) if readinto else ReadOnly
    assert _sha256_of(opener) == hashlib.sha256(data).hexdigest()
