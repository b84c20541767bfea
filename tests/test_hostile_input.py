"""Issue 19, classes 1, 2, 3 and 9: generated corpora of hostile and broken deliveries.

Each class has a generator producing every variant of it (not only one example), ingested
on a workspace: every line is loaded, rejected (file, line, reason) or non-data; a bad file
is refused with one line naming it and the batch goes on; memory stays bounded.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import lzma
import os
import re
import subprocess
import sys
import tarfile
import warnings
import zipfile

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from cdrnet.loader import sources
from cdrnet.synth.writers import PAPER_HEADER, render
from cdrnet.workspace import Workspace
from tests.conftest import ingest, make_sessions, run_cli

SESSIONS = make_sessions(6)
GOOD = render(SESSIONS, "paper")
LINES = GOOD.splitlines()
HEADER, ROWS = LINES[0], LINES[1:]
OTHER = render(make_sessions(6, msisdn="919811111111", seed=3), "paper")


def write(tmp_path, name: str, data: bytes | str):
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def only(res):
    assert not res.failed, res.failed
    assert len(res.loaded) == 1, (res.loaded, res.refused)
    rep = res.loaded[0]
    assert rep.accounted, rep
    return rep


# -- class 1: every row accounted, whatever the bytes ---------------------------------------------

def line_ending_variants() -> dict[str, bytes]:
    """Every line-ending kind, mixed, none at the end, with BOM, with NUL padding, in UTF-16."""
    lf = "\n".join(LINES)
    mixed_endings = ["\r\n", "\n", "\r"]
    mixed = "".join(line + mixed_endings[k % 3] for k, line in enumerate(LINES))
    return {
        "lf": (lf + "\n").encode(), "crlf": ("\r\n".join(LINES) + "\r\n").encode(),
        "cr": ("\r".join(LINES) + "\r").encode(), "mixed": mixed.encode(),
        "no_eol_lf": lf.encode(), "no_eol_cr": "\r".join(LINES).encode(),
        "bom_lf": b"\xef\xbb\xbf" + (lf + "\n").encode(), "bom_crlf": b"\xef\xbb\xbf" + ("\r\n".join(LINES)).encode(),
        "nul_padding": (lf + "\n").encode() + b"\x00" * 5000, "nul_padding_no_eol": lf.encode() + b"\x00" * 5000,
        "nul_padding_crlf": ("\r\n".join(LINES) + "\r\n").encode() + b"\x00" * 70000,
        "utf16_crlf": ("\ufeff" + "\r\n".join(LINES) + "\r\n").encode("utf-16-le"),
        "blank_lines_cr": ("\r\r".join(LINES) + "\r").encode(),
    }


@pytest.mark.parametrize("kind", sorted(line_ending_variants()))
def test_every_line_ending_loads_every_row(ws, tmp_path, kind):
    data = line_ending_variants()[kind]
    rep = only(ingest(ws, write(tmp_path, f"{kind}.csv", data), date_order="dmy"))
    assert rep.loaded == 6 and rep.rejected_total == 0
    padding = 0 if kind.startswith("utf16") else len(data) - len(data.rstrip(b"\x00"))
    assert [n for n in rep.notes if "NUL" in n] == (
        [f"{padding} NUL byte(s) padding the end of the file were ignored (not a line)"] if padding else [])
    # Line numbers count every ending as an editor does: each session points at its own row.
    text = data.decode("utf-16" if kind.startswith("utf16") else "utf-8-sig").rstrip("\x00")
    physical = re.split(r"\r\n|\r|\n", text)
    got = ws.sessions().sort_values("source_line")
    for r in got.itertuples():
        assert physical[r.source_line - 1].split(",")[PAPER_HEADER.index("DESTPORT")] == str(r.dest_port)


def _reorder(line: str, order: list[int]) -> str:
    cells = line.split(",")
    return ",".join(cells[k] for k in order)


def header_repeat_variants() -> dict[str, list[int]]:
    n = len(PAPER_HEADER)
    up, down = PAPER_HEADER.index("UPLINK_VOLUME"), PAPER_HEADER.index("DOWNLINK_VOLUME")
    swapped = list(range(n))
    swapped[up], swapped[down] = down, up
    return {"same": list(range(n)), "reversed": list(reversed(range(n))), "volumes_swapped": swapped,
            "msisdn_first": [PAPER_HEADER.index("MSISDN")] + [k for k in range(n) if k != PAPER_HEADER.index("MSISDN")]}


@pytest.mark.parametrize("kind", sorted(header_repeat_variants()))
def test_repeated_header_in_another_order_is_followed(tmp_path, kind):
    """Never read columns under the wrong names: the rows after a reordered header follow it."""
    order = header_repeat_variants()[kind]
    data = "\n".join([HEADER, *ROWS[:3], _reorder(HEADER, order), *(_reorder(r, order) for r in ROWS[3:])]) + "\n"
    base = Workspace(tmp_path / "base").create()
    only(ingest(base, write(tmp_path, "plain.csv", GOOD), date_order="dmy"))
    ws = Workspace(tmp_path / "ws").create()
    rep = only(ingest(ws, write(tmp_path, f"{kind}.csv", data), date_order="dmy"))
    assert rep.loaded == 6 and rep.rejected_total == 0 and rep.nondata == 2
    cols = ["start_utc", "dest_ip", "dest_port", "uplink", "downlink", "msisdn", "imei"]
    want = base.sessions().sort_values("start_utc")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(ws.sessions().sort_values("start_utc")[cols].reset_index(drop=True), want)
    notes = [n for n in rep.notes if n.startswith("line 5:")]
    assert (notes == []) if kind == "same" else (
        notes == ["line 5: the header repeats with its columns in another order; the rows after it are read under it"])


@pytest.mark.parametrize("second", ["jio", "airtel", "vi"])
def test_two_layouts_in_one_file_say_where_the_second_begins(tmp_path, second):
    ws = Workspace(tmp_path / "ws").create()
    other = render(make_sessions(4, seed=2), second)
    p = write(tmp_path, f"paper_then_{second}.csv", GOOD + other)
    rep = only(ingest(ws, p, date_order="dmy"))
    assert rep.loaded == 6 and rep.layout == "paper"
    other_lines = other.splitlines()
    header_at = next(k for k, line in enumerate(other_lines) if "MSISDN" in line and line.count(",") >= 5)
    line = len(LINES) + header_at + 1
    assert (f"line {line}: a second layout ({second}) begins here, after paper rows; its rows are rejected "
            f"'second_layout' (split the file at line {line} and ingest the parts)") in rep.notes
    rejects = ws.rejects.read()
    second_rows = rejects[rejects["reason"] == "second_layout"]
    expected = sum(1 for row in other_lines[header_at + 1:] if row.strip(" ,"))
    assert len(second_rows) == expected and (second_rows["line"].astype(int) > line).all()
    assert not set(ws.sessions()["msisdn"]) - {"919876543210"}  # nothing of the second read as paper


def test_all_rows_rejected_is_recorded_and_read_again_once_fixed(capsys, tmp_path):
    """Dates written month-first, ingested day-first: nothing loads, the run fails and says so;
    the same file ingested again with the right option is read again and replaces the record."""
    mdy = re.sub(r"(\d\d)/(\d\d)/(\d{4})", r"\2/\1/\3", GOOD)
    p = write(tmp_path, "mdy.csv", mdy)
    wsdir = str(tmp_path / "ws")
    code, out, err = run_cli(capsys, "-w", wsdir, "ingest", "--date-order", "dmy", str(p))
    assert code == 1
    assert "  NOTHING LOADED: every one of its 6 row(s) was rejected; fix the file or the options and ingest it " \
           "again (a dump with nothing loaded is read again)" in out
    assert f"error: {p}: every row was rejected (date_order_conflict=6): nothing loaded" in err
    ws = Workspace(wsdir)
    assert [r.all_rejected for r in ws.reports()] == [True] and len(ws.rejects.read()) == 6
    code, out, err = run_cli(capsys, "-w", wsdir, "ingest", "--date-order", "mdy", str(p))
    assert code == 0 and "already loaded" not in out, err
    (rep,) = ws.reports()
    assert rep.loaded == 6 and not rep.all_rejected and ws.rejects.read().empty
    code, out, _ = run_cli(capsys, "-w", wsdir, "ingest", "--date-order", "mdy", str(p))
    assert code == 0 and "already loaded" in out


# -- class 2: archives never swallow or stop -------------------------------------------------------

def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        warnings.simplefilter("ignore")  # duplicate names are the point
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def _tar(members: list[tuple[str, bytes]], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _7z(members: list[tuple[str, bytes]]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(data, name)
    return buf.getvalue()


TWO = [("d.csv", GOOD.encode()), ("d.csv", OTHER.encode())]


def readable_archives() -> dict[str, tuple[bytes, list[str]]]:
    """Every container, with the member labels that must load (two members share a name)."""
    return {
        "dup.zip": (_zip(TWO), ["!d.csv", "!d.csv#2"]),
        "dup.tar": (_tar(TWO), ["!d.csv", "!d.csv#2"]),
        "dup.tgz": (_tar(TWO, "w:gz"), ["!d.csv", "!d.csv#2"]),
        "dup.tar.gz": (_tar(TWO, "w:gz"), ["!d.csv", "!d.csv#2"]),
        "dup.tar.bz2": (_tar(TWO, "w:bz2"), ["!d.csv", "!d.csv#2"]),
        "dup.tar.xz": (_tar(TWO, "w:xz"), ["!d.csv", "!d.csv#2"]),
        "two.7z": (_7z([("d.csv", GOOD.encode()), ("e.csv", OTHER.encode())]), ["!d.csv", "!e.csv"]),
        "d.csv.gz": (gzip.compress(GOOD.encode()), [""]),
        "d.csv.bz2": (bz2.compress(GOOD.encode()), [""]),
        "d.csv.xz": (lzma.compress(GOOD.encode()), [""]),
        "nested.zip": (_zip([("in/a.csv.gz", gzip.compress(GOOD.encode())),
                             ("in/b.tgz", _tar([("b.csv", OTHER.encode())], "w:gz"))]),
                       ["!in/a.csv.gz", "!in/b.tgz!b.csv"]),
    }


@pytest.mark.parametrize("name", sorted(readable_archives()))
def test_every_archive_member_is_read_even_with_a_shared_name(ws, tmp_path, name):
    data, members = readable_archives()[name]
    p = write(tmp_path, name, data)
    res = ingest(ws, p, date_order="dmy")
    assert not res.failed and not res.refused, res.refused
    assert sorted(r.name for r in res.loaded) == sorted(f"{p}{m}" for m in members)
    assert all(r.accounted and r.loaded == 6 for r in res.loaded)


def test_junk_members_are_reported_not_failures(capsys, tmp_path):
    data = _zip([("d.csv", GOOD.encode()), ("README.txt", b"case notes"), ("__MACOSX/._d.csv", b"\x00\x05"),
                 ("Thumbs.db", b"\xd0\xcf"), ("sub/desktop.ini", b"[x]")])
    p = write(tmp_path, "junk.zip", data)
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", "--date-order", "dmy", str(p))
    assert code == 0
    assert "1 dump(s) loaded (6 sessions, 0 rejected rows), 0 unchanged, 0 refused, 4 skipped (not dumps), 0 failed" \
        in out
    assert f"{p}!Thumbs.db\n  skipped: system file Thumbs.db" in err
    assert f"{p}!__MACOSX/._d.csv\n  skipped: macOS metadata folder __MACOSX/" in err


def broken_deliveries() -> dict[str, tuple[bytes, str]]:
    """Every way an archive or workbook arrives broken, and the start of the one line refusing it."""
    good_zip = _zip([("d.csv", GOOD.encode())])
    bad_crc = bytearray(_zip([("d.csv", GOOD.encode())]))
    bad_crc[bad_crc.find(b"PK\x01\x02") + 16] ^= 0xFF  # the central directory's CRC of the member
    broken_xlsx = _zip([("xl/workbook.xml", b"<broken"), ("[Content_Types].xml", b"<x/>")])
    return {
        "truncated.zip": (good_zip[: len(good_zip) // 2], "refused (corrupt): not a valid zip archive"),
        "bad_crc.zip": (bytes(bad_crc), "refused (corrupt): cannot be read (BadZipFile: Bad CRC-32"),
        "truncated.csv.gz": (gzip.compress(GOOD.encode())[:60], "refused (corrupt): cannot be read (EOFError"),
        "not_gzip.gz": (b"\x1f\x8bnot gzip at all", "refused (corrupt): cannot be read (BadGzipFile"),
        "truncated.tgz": (_tar(TWO, "w:gz")[:200], "refused (corrupt): cannot be read (EOFError"),
        "truncated.7z": (_7z(TWO[:1])[:80], "refused (corrupt): not a readable .7z archive"),
        "broken.xlsx": (broken_xlsx, "refused (corrupt): not a readable .xlsx workbook (OSError"),
        "broken.xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "refused (corrupt): not a readable .xls"),
        "d.csv.zst": (b"\x28\xb5\x2f\xfd" + b"\x00" * 40, "refused (unsupported): compressed with Zstandard (.zst)"),
        "d.csv.Z": (b"\x1f\x9d\x90" + b"\x00" * 40, "refused (unsupported): compressed with Unix compress (.Z)"),
        "bad_inner.zip": (_zip([("in.zip", good_zip[:40])]), "refused (corrupt): not a valid zip archive"),
    }


@pytest.mark.parametrize("name", sorted(broken_deliveries()))
def test_a_broken_delivery_is_refused_by_name_and_the_batch_goes_on(capsys, tmp_path, name):
    data, line = broken_deliveries()[name]
    folder = tmp_path / "batch"
    folder.mkdir()
    write(folder, f"a_{name}", data)
    write(folder, "z_good.csv", GOOD)
    code, out, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", "--date-order", "dmy", str(folder))
    assert code == 0 and "Traceback" not in err and "aborted" not in err
    assert "1 dump(s) loaded (6 sessions" in out and "1 refused" in out
    refused = [k for k, text in enumerate(err.splitlines()) if text.startswith(str(folder / f"a_{name}"))]
    assert len(refused) == 1, err
    assert err.splitlines()[refused[0] + 1].startswith(f"  {line}"), err


@pytest.mark.parametrize("shape", ["endless_line", "newlines", "zip_member"])
def test_bombs_are_refused_within_a_limit(ws, tmp_path, monkeypatch, shape):
    """Huge expansion ratios stop at the limit with a clear message (a small limit keeps the test fast)."""
    monkeypatch.setattr(sources, "MIN_EXPANSION_LIMIT", 4 << 20)
    monkeypatch.setattr(sources, "MAX_EXPANSION_RATIO", 20)
    payload = {"endless_line": b"A" * (40 << 20), "newlines": GOOD.encode() + b"\n" * (40 << 20),
               "zip_member": GOOD.encode() + b"," * (40 << 20)}[shape]
    data = _zip([("big.csv", payload)]) if shape == "zip_member" else gzip.compress(payload, 9)
    p = write(tmp_path, "bomb.zip" if shape == "zip_member" else "bomb.csv.gz", data)
    res = ingest(ws, p)
    assert not res.loaded and not res.failed
    (r,) = res.refused
    assert r.kind == "bomb" and r.reason.startswith("expands past 4 MB from ")
    assert r.reason.endswith("compressed bytes (more than 20 times): refused as a possible archive bomb")


# -- class 3: spreadsheet cells of every type ------------------------------------------------------

def _typed_rows(mode: str) -> tuple[list[list[object]], dict[int, str]]:
    """The six rows as an analyst's workbook holds them, with the date/time cells in ``mode``."""
    h = PAPER_HEADER
    pairs = [(h.index("START_DATE"), h.index("START_TIME")), (h.index("END_DATE"), h.index("END_TIME"))]
    formats: dict[int, str] = {}
    out = []
    for line in ROWS:
        r: list[object] = list(line.split(","))
        for di, ti in pairs:
            when = dt.datetime.strptime(f"{r[di]} {r[ti]}", "%d/%m/%Y %H:%M:%S")
            if mode == "date_cells":
                r[di], r[ti] = when, when.time()
                formats[di] = "dd/mm/yyyy"
            elif mode == "datetime_with_date_format":
                r[di] = when  # a full datetime shown as a date: Excel hides the time part
                formats[di] = "dd/mm/yyyy"
            elif mode == "serials":
                r[di] = (when.date() - dt.date(1899, 12, 30)).days
                r[ti] = (when.hour * 3600 + when.minute * 60 + when.second) / 86400
            elif mode == "date_cell_text_time":
                r[di] = when.date()
                formats[di] = "d-mmm-yy"
        for k in (h.index("DESTPORT"), h.index("UPLINK_VOLUME"), h.index("MSISDN")):
            r[k] = int(str(r[k]))
        out.append(r)
    return out, formats


def _workbook(rows: list[list[object]], formats: dict[int, str]) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.append(PAPER_HEADER)
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=2):
        for k, fmt in formats.items():
            row[k].number_format = fmt
    return wb


@pytest.mark.parametrize("mode", ["text", "date_cells", "datetime_with_date_format", "serials",
                                  "date_cell_text_time"])
def test_xlsx_date_and_time_cells_read_as_excel_shows_them(ws, tmp_path, mode):
    base = Workspace(tmp_path / "base").create()
    only(ingest(base, write(tmp_path, "plain.csv", GOOD), date_order="dmy"))
    p = tmp_path / f"{mode}.xlsx"
    _workbook(*_typed_rows(mode)).save(p)
    rep = only(ingest(ws, p, date_order="dmy"))
    assert rep.loaded == 6 and rep.rejected_total == 0
    assert list(ws.sessions()["start_utc"].sort_values()) == list(base.sessions()["start_utc"].sort_values())
    assert any("read as Excel serial dates/times" in n for n in rep.notes) == (mode == "serials")


def test_xlsx_merged_cells_hidden_sheets_and_padding_rows(ws, tmp_path):
    rows, _ = _typed_rows("text")
    wb = Workbook()
    first = wb.active
    first.title = "data"
    first.append(PAPER_HEADER)
    for r in rows[:3]:
        first.append(r)
    col = PAPER_HEADER.index("MSISDN") + 1
    for k in (3, 4):
        first.cell(k, col).value = None
    first.merge_cells(start_row=2, start_column=col, end_row=4, end_column=col)  # one number for three rows
    first.cell(30000, 1).value = ""  # the used range padded with empty rows
    hidden = wb.create_sheet("kept aside")
    hidden.append(PAPER_HEADER)
    for r in rows[3:]:
        hidden.append(r)
    hidden.sheet_state = "hidden"
    wb.create_sheet("notes").append(["prepared by", "analyst"])
    p = tmp_path / "book.xlsx"
    wb.save(p)
    rep = only(ingest(ws, p, date_order="dmy"))
    assert rep.loaded == 6 and rep.rejected_total == 0 and rep.sheets == ["data", "kept aside"]
    assert set(ws.sessions()["msisdn"]) == {"919876543210"}
    assert "sheet 'kept aside' is hidden in Excel; it was read like the others" in rep.notes


def _with_cached_values(path, cached: dict[str, str]) -> None:
    """Give formula cells the cached value Excel would have stored (openpyxl writes none)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    for ref, value in cached.items():
        xml = re.sub(rf'(<c r="{ref}"[^>]*>)<f>([^<]*)</f><v\s*/?>(</v>)?', rf"\1<f>\2</f><v>{value}</v>", xml)
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)


def test_xlsx_formulas_give_their_cached_values_or_a_reason(ws, tmp_path):
    rows, formats = _typed_rows("date_cells")
    wb = _workbook(rows, formats)
    sheet = wb.active
    from openpyxl.utils import get_column_letter

    port = get_column_letter(PAPER_HEADER.index("DESTPORT") + 1)
    msisdn = get_column_letter(PAPER_HEADER.index("MSISDN") + 1)
    for n in range(2, 8):
        sheet[f"{port}{n}"] = f"=440+{sheet[f'{port}{n}'].value - 440}"
    sheet[f"{msisdn}7"] = "=919876543210+0"  # never opened in Excel: no cached value
    p = tmp_path / "formulas.xlsx"
    wb.save(p)
    _with_cached_values(p, {f"{port}{n}": str(int(rows[n - 2][PAPER_HEADER.index("DESTPORT")])) for n in range(2, 8)})
    rep = only(ingest(ws, p, date_order="dmy"))
    assert rep.loaded == 5 and rep.rejected == {"missing_msisdn": 1}
    assert sorted(ws.sessions()["dest_port"].astype(int)) == sorted(int(r[5]) for r in rows[:5])


def test_xls_date_cells(ws, tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("ipdr")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    rows, _ = _typed_rows("date_cells")
    for c, name in enumerate(PAPER_HEADER):
        sheet.write(0, c, name)
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if isinstance(v, dt.datetime):
                sheet.write(r, c, v.replace(hour=0, minute=0, second=0), date_style)
            elif isinstance(v, dt.time):
                sheet.write(r, c, v.strftime("%H:%M:%S"))
            else:
                sheet.write(r, c, v)
    p = tmp_path / "legacy.xls"
    book.save(str(p))
    rep = only(ingest(ws, p, date_order="dmy"))
    assert rep.loaded == 6 and rep.rejected_total == 0


# -- class 9: resource bounds ----------------------------------------------------------------------

def _peak_rss_mb(args: list[str]) -> tuple[int, float]:
    """Run cdrnet in a child process; return (exit code, the child's peak RSS in MB).

    The peak is the child's own (VmHWM of its address space): getrusage's ru_maxrss survives exec,
    so a child started from a pytest process already grown to 900 MB by earlier tests (any order
    but the default) reported that instead of its own peak."""
    code = (
        "import sys\n"
        "from cdrnet.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
        "hwm = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print('RSS', hwm, rc, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, "-q", *args], capture_output=True, text=True,
                          env={**os.environ, "CDRNET_WORKERS": "1"}, timeout=600)
    _, rss_kb, rc = proc.stderr.strip().splitlines()[-1].split()
    return int(rc), int(rss_kb) / 1024


@pytest.mark.parametrize("shape", ["padding_rows", "blank_lines", "endless_line"])
def test_memory_stays_bounded_on_padding_and_long_lines(tmp_path, shape):
    """400,000 padding rows, or a 64 MB line without newline, ingest in a few hundred MB."""
    p = tmp_path / f"{shape}.csv"
    with open(p, "wb") as fh:
        fh.write(GOOD.encode())
        if shape == "padding_rows":
            fh.write(("," * (len(PAPER_HEADER) - 1) + "\n").encode() * 400_000)
        elif shape == "blank_lines":
            fh.write(b"\r\n" * 400_000)
        else:
            for _ in range(64):
                fh.write(b"9" * (1 << 20))
        fh.write(OTHER.split("\n", 1)[1].encode())
    rc, peak = _peak_rss_mb(["-w", str(tmp_path / "ws"), "ingest", "--date-order", "dmy", str(p)])
    assert rc == 0 and peak < 700, peak
    (rep,) = Workspace(tmp_path / "ws").reports()
    assert rep.accounted and rep.loaded == 12 - (1 if shape == "endless_line" else 0)
    if shape == "endless_line":  # the long line swallowed OTHER's first row: one reject, bounded
        rejects = Workspace(tmp_path / "ws").rejects.read()
        assert list(rejects["reason"]) == ["line_too_long"] and len(rejects["raw"].iloc[0]) < 300
        assert rejects["raw"].iloc[0].endswith(f"... [{(64 << 20) + len(OTHER.splitlines()[1])} bytes]")
    else:
        assert rep.nondata == 400_000 + 1


def test_rejects_keep_a_bounded_excerpt_of_a_long_line(ws, tmp_path):
    wide = ROWS[0] + ",x" * 200_000  # 400 kB, under the line limit: wrong field count
    rep = only(ingest(ws, write(tmp_path, "wide.csv", "\n".join([HEADER, wide, *ROWS[1:]]) + "\n"), date_order="dmy"))
    assert rep.rejected == {"wrong_field_count": 1}
    raw = ws.rejects.read()["raw"].iloc[0]
    assert raw.startswith(ROWS[0][:100]) and raw.endswith(f"... [{len(wide)} bytes]") and len(raw) < 300


# -- hypothesis: line endings and archive members --------------------------------------------------

@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(endings=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(LINES), max_size=len(LINES)),
       bom=st.booleans(), last=st.booleans(), pad=st.integers(0, 3000), blanks=st.lists(st.integers(0, 5), max_size=4))
def test_fuzz_line_endings(tmp_path_factory, endings, bom, last, pad, blanks):
    tmp = tmp_path_factory.mktemp("fuzz")
    lines = list(LINES)
    for k in sorted(blanks, reverse=True):
        lines.insert(k + 1, "")  # blank lines after the header, anywhere
    ends = (endings * 2)[: len(lines)]
    text = "".join(line + e for line, e in zip(lines, ends, strict=True))
    if not last:
        text = text.rstrip("\r\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode() + b"\x00" * pad
    ws = Workspace(tmp / "ws").create()
    rep = only(ingest(ws, write(tmp, "f.csv", data), date_order="dmy"))
    # "\r" then an empty line ending "\n" is one CRLF: count blank lines as an editor shows them.
    physical = re.split(r"\r\n|\r|\n", text.removesuffix(ends[-1]) if last else text)
    assert rep.loaded == 6 and rep.rejected_total == 0 and rep.nondata == 1 + physical.count("")


MEMBER_NAMES = st.sampled_from(["d.csv", "D.CSV", "sub/d.csv", "e.txt", "README.md", "Thumbs.db",
                                "__MACOSX/._d.csv", "notes.pdf", "x.csv.gz"])
MEMBER_DATA = st.sampled_from(["good", "other", "garbage", "empty", "gz_good", "gz_truncated"])


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(container=st.sampled_from(["zip", "tar", "tgz"]),
       members=st.lists(st.tuples(MEMBER_NAMES, MEMBER_DATA), min_size=1, max_size=6))
def test_fuzz_archive_members_are_each_accounted(tmp_path_factory, container, members):
    """Whatever members an archive holds (shared names, junk, garbage, broken .gz): no exception,
    and every member is loaded, unchanged, refused or skipped under its own label."""
    payload = {"good": GOOD.encode(), "other": OTHER.encode(), "garbage": bytes(range(256)) * 3, "empty": b"",
               "gz_good": gzip.compress(GOOD.encode()), "gz_truncated": gzip.compress(GOOD.encode())[:50]}
    files = [(name, payload[kind]) for name, kind in members]
    data = {"zip": _zip, "tar": _tar, "tgz": lambda m: _tar(m, "w:gz")}[container](files)
    tmp = tmp_path_factory.mktemp("arch")
    p = write(tmp, f"a.{container}", data)
    ws = Workspace(tmp / "ws").create()
    res = ingest(ws, p, date_order="dmy")
    labels = [r.name for r in res.loaded] + [n for n, _ in res.unchanged] + [r.name for r in res.refused] + [
        n for n, _ in res.failed]
    assert len(labels) == len(set(labels)) == len(files), (labels, files)
    assert all(r.accounted for r in res.loaded)
