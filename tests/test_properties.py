"""Property-based tests: whatever the lines, each is accounted for exactly once."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrnet.errors import UnknownLayoutError
from cdrnet.loader.detect import detect
from cdrnet.loader.layouts import builtin_layouts
from cdrnet.synth.writers import render
from cdrnet.workspace import Workspace
from tests.conftest import ingest, make_sessions

BASE = render(make_sessions(6), "paper").splitlines()
FIELD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=20)
NOISE_LINE = st.one_of(
    st.lists(FIELD, min_size=0, max_size=25).map(",".join),
    st.sampled_from(["", ",,,,", "This is System generated report", "No Records Found", '"unterminated,quote',
                     "9.18E+11,1,2", "\x00\x00", "=\"919876543210\"", "31/02/2023,25:61:00"]),
    st.lists(FIELD, min_size=18, max_size=18).map(",".join),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(noise=st.lists(st.tuples(st.integers(1, 7), NOISE_LINE), max_size=12), crlf=st.booleans())
def test_every_line_accounted_once(noise, crlf):
    lines = list(BASE)
    for pos, text in noise:
        lines.insert(min(pos, len(lines)), text)
    body = ("\r\n" if crlf else "\n").join(lines) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "dump.csv"
        p.write_bytes(body.encode("utf-8", errors="surrogatepass"))
        ws = Workspace(Path(tmp) / "ws").create()
        res = ingest(ws, p)
        assert not res.failed
        rep = res.loaded[0]
        assert rep.lines_read == len(lines)
        assert rep.loaded + rep.rejected_total + rep.nondata == rep.lines_read
        # The six generated sessions survive whatever surrounds them; noise loads at most once per line.
        assert 6 <= rep.loaded <= 6 + len(noise)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(FIELD, max_size=30), max_size=20), delim=st.sampled_from([",", ";", "|", "\t"]))
def test_detector_never_crashes(rows, delim):
    lines = [delim.join(r) for r in rows]
    try:
        det = detect(lines, builtin_layouts(), "fuzz.csv")
    except UnknownLayoutError as exc:
        assert "fuzz.csv" in str(exc)
    else:
        assert det.empty_export or det.header_line >= 1
