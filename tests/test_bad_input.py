"""A corpus of broken dumps: no traceback, a clear message, every line accounted for."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from cdrnet.loader import textblocks
from cdrnet.synth.writers import PAPER_HEADER, render
from cdrnet.workspace import Workspace
from tests.conftest import ingest, make_sessions, run_cli

GOOD = render(make_sessions(5), "paper")
HEADER = ",".join(PAPER_HEADER)
LINES = GOOD.splitlines()


def write(tmp_path, name: str, data: bytes | str):
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def one(ws, p):
    res = ingest(ws, p)
    assert not res.failed, res.failed
    rep = res.loaded[0]
    assert rep.accounted, rep
    return rep


def test_truncated_last_line(ws, tmp_path):
    rep = one(ws, write(tmp_path, "t.csv", GOOD.rstrip("\n")[:-25]))
    assert rep.loaded == 4 and rep.rejected == {"wrong_field_count": 1}


def test_a_last_line_cut_inside_its_last_field_loads_with_a_note(ws, tmp_path):
    """A copy cut short inside the last row's last field still splits into every field: the row
    loads with a shortened value (an Airtel cell id, a Jio duration), so the dump says so."""
    rep = one(ws, write(tmp_path, "c.csv", GOOD.rstrip("\n")[:-1]))
    assert rep.loaded == 5 and not rep.rejected
    assert any(n.startswith("line 6, the last, loaded but no line break follows it") for n in rep.notes), rep.notes


def test_a_file_ending_with_a_line_break_or_a_rejected_line_has_no_cut_note(ws, tmp_path):
    for name, data in (("whole.csv", GOOD), ("rej.csv", GOOD.rstrip("\n")[:-25])):
        rep = one(ws, write(tmp_path, name, data))
        assert not any("no line break" in n for n in rep.notes), rep.notes


def test_too_many_and_too_few_fields(ws, tmp_path):
    data = "\n".join([LINES[0], LINES[1] + ",extra,fields", LINES[2], ",".join(LINES[3].split(",")[:5]),
                      LINES[4]]) + "\n"
    rep = one(ws, write(tmp_path, "f.csv", data))
    assert rep.loaded == 2 and rep.rejected == {"wrong_field_count": 2}


def test_wrong_delimiter_inside_file(ws, tmp_path):
    data = "\n".join([LINES[0], LINES[1], LINES[2].replace(",", ";"), LINES[3]]) + "\n"
    rep = one(ws, write(tmp_path, "d.csv", data))
    assert rep.loaded == 2 and rep.rejected == {"wrong_field_count": 1}


def test_mixed_delimiters_header_decides(ws, tmp_path):
    data = "\n".join([LINES[0].replace(",", "|"), LINES[1].replace(",", "|"), LINES[2],
                      LINES[3].replace(",", "|")]) + "\n"
    rep = one(ws, write(tmp_path, "m.csv", data))
    assert rep.loaded == 2 and rep.rejected == {"wrong_field_count": 1}


def test_extremely_long_line(ws, tmp_path):
    data = "\n".join([LINES[0], LINES[1], "x" * 5_000_000, LINES[2]]) + "\n"
    rep = one(ws, write(tmp_path, "l.csv", data))
    assert rep.loaded == 2 and rep.rejected == {"line_too_long": 1}


def test_binary_file_named_csv(capsys, tmp_path):
    p = write(tmp_path, "photo.csv", bytes(range(256)) * 200)
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1 and "Traceback" not in err
    assert err.startswith(f"{p}\n  refused (unknown layout): no recognisable header")


@pytest.mark.parametrize("content,message", [("", "the file is empty"), ("\n\n  \n", "no recognisable header")])
def test_empty_files(capsys, tmp_path, content, message):
    p = write(tmp_path, "e.csv", content)
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1 and err.splitlines()[0] == str(p)
    assert err.splitlines()[1].startswith("  refused (unknown layout): ") and message in err.splitlines()[1]


def test_header_only(ws, tmp_path):
    rep = one(ws, write(tmp_path, "h.csv", HEADER + "\n"))
    assert rep.loaded == 0 and rep.lines_read == 1 and rep.nondata == 1


def test_duplicated_header_columns(ws, tmp_path):
    cols = LINES[0] + ",MSISDN"
    rows = [line + ",919999999999" for line in LINES[1:]]
    rep = one(ws, write(tmp_path, "dup.csv", "\n".join([cols, *rows]) + "\n"))
    assert rep.loaded == 5
    assert set(ws.sessions()["msisdn"]) == {"919876543210"}  # the first MSISDN column wins


def test_missing_required_column(capsys, tmp_path):
    cols = LINES[0].split(",")
    k = cols.index("DESTPORT")
    data = "\n".join(",".join(f for i, f in enumerate(line.split(",")) if i != k) for line in LINES) + "\n"
    p = write(tmp_path, "nodest.csv", data)
    code, _, err = run_cli(capsys, "-w", str(tmp_path / "ws"), "ingest", str(p))
    assert code == 1 and "no recognisable header" in err


def test_zip_bomb_like_nesting_is_bounded(ws, tmp_path):
    data = GOOD.encode()
    for level in range(5):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(f"level{level}.zip" if level else "dump.csv", data)
        data = buf.getvalue()
    p = write(tmp_path, "deep.zip", data)
    res = ingest(ws, p)
    assert not res.loaded and res.refused and "nested deeper" in res.refused[0].reason


def test_large_file_is_streamed_in_blocks(ws, tmp_path, monkeypatch):
    """Many blocks (a 2 GB export is ~100 of the default 16 MB blocks): counts stay exact."""
    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 4096)
    s = make_sessions(3000, seed=4)
    body = render(s, "paper").splitlines()
    body.insert(1500, "garbage,line")
    p = write(tmp_path, "big.csv", "\n".join(body) + "\n")
    rep = one(ws, p)
    assert rep.loaded + rep.rejected_total == 3001 and rep.rejected.get("wrong_field_count") == 1
    got = ws.sessions().sort_values("source_line")
    assert got["source_line"].iloc[-1] == 3002


def test_source_lines_point_at_the_right_rows(ws, tmp_path):
    p = write(tmp_path, "lines.csv", "preamble\n\n" + GOOD)
    one(ws, p)
    raw = p.read_text().splitlines()
    for r in ws.sessions().itertuples():
        assert r.session_key and raw[r.source_line - 1].split(",")[6] == "919876543210"


def test_worker_threads_give_the_same_workspace(tmp_path, monkeypatch):
    """One dump's blocks normalised on worker threads: same sessions, rejects and report as one
    thread, and the later blocks did run on the pool's threads."""
    import threading

    from cdrnet.loader import parse
    from cdrnet.loader.ingest import ingest_paths
    from cdrnet.loader.layouts import builtin_layouts
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures

    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 8192)
    ran_on: list[str] = []
    real = parse.process_block
    monkeypatch.setattr(parse, "process_block",
                        lambda *a, **k: ran_on.append(threading.current_thread().name) or real(*a, **k))
    s = make_sessions(2000, seed=9)
    body = render(s, "paper").splitlines()
    body.insert(700, "garbage,line")
    body.insert(900, body[899])  # a duplicate row in a later block
    p = write(tmp_path, "multi.csv", "\n".join(body) + "\n")
    got = {}
    for workers in (1, 2):
        ws = Workspace(tmp_path / f"ws{workers}").create()
        res = ingest_paths([str(p)], ws, builtin_layouts(), Options(rules=load_signatures("modern")), "modern",
                           show_progress=False, workers=workers)
        rep = res.loaded[0]
        assert res.workers == workers
        # One worker: every block in this thread; two: the first (it decides the date order) here,
        # every later one on the pool's threads.
        main = threading.current_thread().name
        assert len(ran_on) > 10 and ran_on[0] == main
        assert all(name == main if workers == 1 else name.startswith("cdrnet-block") for name in ran_on[1:])
        ran_on.clear()
        got[workers] = (ws.sessions().sort_values("source_line").reset_index(drop=True),
                        (ws.root / "rejects.csv").read_text(), rep.loaded, rep.rejected, rep.nondata, rep.lines_read)
    assert got[1][2:] == got[2][2:] and got[1][2] == 2000 and got[1][3] == {"wrong_field_count": 1, "duplicate_row": 1}
    assert got[1][1] == got[2][1]
    pd.testing.assert_frame_equal(got[1][0], got[2][0])


def test_invalid_utf8_byte_after_the_sniffed_head(ws, tmp_path, monkeypatch):
    """UTF-8 blocks pass through undecoded: a stray byte deep in the file must still be
    accounted for (the row is kept, the counts stay exact). The file is ASCII up to it, so the
    byte is read as cp1252 (0xFF: ÿ), as a Windows export's letters are; in a file with UTF-8
    letters it becomes U+FFFD (test_utf8_with_one_damaged_byte_after_an_ascii_head_stays_utf8)."""
    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 4096)
    s = make_sessions(600, seed=5)
    lines = render(s, "paper").encode().splitlines()
    lines[450] = lines[450].replace(b"10.1.2.3", b"10.1.2.3\xff")
    p = write(tmp_path, "stray.csv", b"\n".join(lines) + b"\n")
    rep = one(ws, p)
    assert rep.loaded + rep.rejected_total + rep.nondata == rep.lines_read == 601
    assert rep.loaded == 600
    got = ws.sessions()
    assert (got["src_ip"] == "10.1.2.3\u00ff").sum() == 1


def test_cp1252_text_after_an_ascii_head_is_decoded_not_replaced(ws, tmp_path):
    """The encoding is sniffed from the first 64 kB: a Windows export whose non-ASCII letters come
    later was read as UTF-8 and every such letter became U+FFFD (a cell known by name got another key)."""
    frame = make_sessions(1200)
    frame["cell_id"] = "Sector 1 New Delhi"
    frame.loc[frame.index[-3:], "cell_id"] = "Sector 1 Délhi"
    data = render(frame, "paper").encode("cp1252")
    assert data[:65536].isascii() and not data.isascii()
    rep = one(ws, write(tmp_path, "late.csv", data))
    assert rep.loaded == 1200
    cells = ws.sessions().sort_values("source_line")["cell_raw"]
    assert list(cells.iloc[-3:]) == ["Sector 1 Délhi"] * 3


def test_utf8_with_one_damaged_byte_after_an_ascii_head_stays_utf8(ws, tmp_path):
    frame = make_sessions(1200)
    frame["cell_id"] = "Sector 1 New Delhi"
    frame.loc[frame.index[-3:], "cell_id"] = "Sector 1 Délhi"
    data = render(frame, "paper").encode("utf-8")
    cut = data.rindex("é".encode())
    data = data[:cut] + b"\xff" + data[cut + 2:]  # the last é damaged, the two before it whole
    rep = one(ws, write(tmp_path, "damaged.csv", data))
    assert rep.loaded == 1200
    cells = ws.sessions().sort_values("source_line")["cell_raw"]
    assert list(cells.iloc[-3:]) == ["Sector 1 Délhi", "Sector 1 Délhi", "Sector 1 D\ufffdlhi"]
