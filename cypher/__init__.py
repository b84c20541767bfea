"""Cypher lives here as files with $parameters; this module loads them and checks parameters.

Every query runs through ``query()``, which refuses to run a file whose
``$parameters`` are not all supplied (or that is given parameters it does not
use), so a typo fails loudly instead of silently matching nothing.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from cdrnet.errors import GraphError

_COMMENT = re.compile(r"//[^\n]*")
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@cache
def load(name: str) -> str:
    """Text of ``cypher/<name>.cypher`` (``queries/x`` for analyst queries)."""
    try:
        return (resources.files("cdrnet.cypher") / f"{name}.cypher").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise GraphError(f"no Cypher file {name}.cypher") from exc


def parameters(text: str) -> set[str]:
    """Names of the $parameters a Cypher text uses (comments and strings ignored)."""
    code = _STRING.sub("''", _COMMENT.sub("", text))
    return set(_PARAM.findall(code))


def query(name: str, params: dict) -> tuple[str, dict]:
    """Text and parameters for a file, after checking they match exactly."""
    text = load(name)
    wanted = parameters(text)
    missing = sorted(wanted - set(params))
    extra = sorted(set(params) - wanted)
    if missing or extra:
        raise GraphError(f"{name}.cypher: missing parameter(s) {missing or '-'}, unexpected {extra or '-'}")
    return text, params


def header_doc(name: str) -> str:
    """The leading // comment block of a file (what an analyst query does)."""
    lines = []
    for line in load(name).splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[2:].strip())
    return "\n".join(lines)


def query_chain(names: list[str], params: dict) -> tuple[str, dict]:
    """Files meant to run as one statement (a query that ends in a ``WITH`` and the one that
    continues it), joined in order, with the same parameter check as :func:`query`."""
    text = "\n".join(load(n) for n in names)
    wanted = parameters(text)
    missing = sorted(wanted - set(params))
    extra = sorted(set(params) - wanted)
    if missing or extra:
        raise GraphError(f"{' + '.join(names)}: missing parameter(s) {missing or '-'}, unexpected {extra or '-'}")
    return text, params
