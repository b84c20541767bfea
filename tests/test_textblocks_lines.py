"""The block reader's line cut (``textblocks._whole_lines``) and whole reads against the plain split."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cdrnet.loader import textblocks

CHUNK = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\x00", b"x"))


@settings(max_examples=300, deadline=None)
@given(carry=CHUNK.map(lambda b: b.replace(b"\n", b"")), text=CHUNK)
def test_whole_lines_is_the_split_at_the_last_newline(carry, text):
    """Whole lines and the unfinished rest are ``carry + text`` cut after its last newline, always bytes."""
    body, rest = textblocks._whole_lines(carry, text)
    joined = carry + text
    cut = joined.rfind(b"\n") + 1
    assert (body, rest) == (joined[:cut], joined[cut:])
    assert type(body) is bytes and type(rest) is bytes


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")
                                                   .replace(b"\x00", b"x")), max_size=60),
       end=st.booleans(), size=st.integers(1, 64))
def test_blocks_join_to_the_stream(lines, end, size):
    """Blocks of any size join back to the stream's text, each ending at a line end but the last."""
    data = b"\n".join(lines) + (b"\n" if end and lines else b"")
    data = data.decode("utf-8", errors="replace").encode("utf-8")  # the reader's UTF-8 text
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    blocks = list(textblocks.BlockReader(io.BytesIO(data), size))
    assert b"".join(b.data for b in blocks) == data
    assert all(b.data.endswith(b"\n") for b in blocks[:-1])
    assert sum(b.n_lines for b in blocks) == textblocks.count_lines(data)


def test_a_dumps_first_block_is_whole_and_the_later_ones_half(monkeypatch):
    """The first block (the one a dump's date order is decided on) keeps BLOCK_SIZE; the later ones
    read half as much at a time (less memory taken fresh per block), and all join to the stream."""
    monkeypatch.setattr(textblocks, "BLOCK_SIZE", 4096)
    data = b"".join(b"%06d,some,row,text\n" % i for i in range(2000))  # 20 bytes a line, 40 kB
    blocks = list(textblocks.BlockReader(io.BytesIO(data)))
    assert b"".join(b.data for b in blocks) == data
    assert 4096 - 20 < len(blocks[0].data) <= 4096
    assert all(2048 - 40 < len(b.data) <= 2048 + 20 for b in blocks[1:-1])
    assert [b.first_line for b in blocks] == list(np.cumsum([1] + [b.n_lines for b in blocks[:-1]]))
