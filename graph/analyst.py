"""The analyst queries of cypher/queries/: their documented parameters, checked values, and display.

Each query file documents itself in its leading comment block: the first line is
a short title (Browser's Favorites name a query by it), then what the query
answers, then one ``:param NAME => VALUE`` line per parameter, marked
``(default)`` or ``(example)``. The same lines feed ``cdrnet query`` (defaults,
types), the Browser guide (clickable, integer-safe ``:param`` commands) and the
README, so they cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from cdrnet.cypher import load
from cdrnet.errors import UsageError

_PARAM_LINE = re.compile(r"^:param\s+([A-Za-z_]\w*)\s*=>\s*(.+?)\s+\((default|example)\)\s*$")
_WRITES = re.compile(r"\b(SET|REMOVE|CREATE|MERGE|DELETE)\b")
#: Parameters holding a phone number: normalised as the loader does (+91…, 0091…, 10 digits).
PHONE_PARAMS = ("msisdn", "a", "b")
#: suspect_network expands at most this many links (the query has one branch per hop count).
MAX_HOPS = 4


@dataclass(frozen=True)
class Param:
    """One documented parameter: its Browser literal and whether it is a default or an example."""

    name: str
    literal: str
    default: bool

    @property
    def kind(self) -> type:
        """The Python type the query expects (from the literal's form)."""
        if self.literal.startswith(("'", '"')):
            return str
        if self.literal in ("true", "false"):
            return bool
        return float if "." in self.literal else int

    @property
    def value(self) -> Any:
        """The literal as a Python value (what a default means)."""
        return _typed(self.literal.strip("'\""), self.kind, self.name)


@dataclass(frozen=True)
class QueryDoc:
    """What a query file says about itself."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...] = field(default=())
    writes: bool = False
    text: str = ""

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def query_names() -> list[str]:
    folder = resources.files("cdrnet.cypher") / "queries"
    return sorted(p.name[: -len(".cypher")] for p in folder.iterdir() if p.name.endswith(".cypher"))


def query_doc(name: str) -> QueryDoc:
    """Parse a query's header (title, description, :param lines) and note whether it writes."""
    text = load(f"queries/{name}")
    head = []
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        head.append(line[2:].strip())
    params, desc = [], []
    for line in head[1:]:
        m = _PARAM_LINE.match(line)
        if m:
            params.append(Param(m.group(1), m.group(2), m.group(3) == "default"))
        elif not line.startswith(":param"):
            desc.append(line)
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    body = "\n".join(line for line in text.splitlines() if not line.startswith("//"))
    return QueryDoc(name, head[0] if head else name, " ".join(desc), tuple(params), bool(_WRITES.search(code)),
                    body.strip())


def _typed(text: str, kind: type, name: str) -> Any:
    if kind is str:
        return text
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise UsageError(f"parameter {name} is true or false, not '{text}'")
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise UsageError(f"parameter {name} is {what}, not '{text}'") from None


def phone(text: str, country_code: str = "91") -> str:
    """A number as the loader stores it (E.164 digits without '+'), or a usage error."""
    import pandas as pd

    from cdrnet.loader.identifiers import clean_text, normalise_msisdn

    norm, reason = normalise_msisdn(clean_text(pd.Series([text], dtype="string")), country_code)
    if not pd.isna(reason.iloc[0]):
        raise UsageError(f"'{text}' is not a phone number",
                         "give the number as in the dumps, e.g. 919812345678 or +91 98123 45678")
    return str(norm.iloc[0])


def prepare(name: str, given: dict[str, str], case: str, country_code: str = "91") -> dict[str, Any]:
    """The parameters a query runs with: typed, defaults filled in, numbers normalised, caps enforced."""
    if name not in query_names():
        raise UsageError(f"no analyst query '{name}'", f"choose one of: {', '.join(query_names())}")
    doc = query_doc(name)
    from cdrnet.cypher import parameters

    wanted = parameters(load(f"queries/{name}"))
    values: dict[str, Any] = {}
    for key, raw in given.items():
        if key not in wanted or key == "case":
            others = ", ".join(sorted(wanted - {"case"})) or "none"
            hint = ("the case comes from --case (or the workspace name)" if key == "case"
                    else f"its parameters: {others}")
            raise UsageError(f"query {name} has no parameter '{key}'", hint)
        p = doc.param(key)
        values[key] = _typed(raw, p.kind if p else str, key)
    for p in doc.params:
        if p.name not in values and p.default:
            values[p.name] = p.value
    for key in PHONE_PARAMS:
        if key in values:
            values[key] = phone(str(values[key]), country_code)
    if "hops" in values and not 1 <= int(values["hops"]) <= MAX_HOPS:
        raise UsageError(f"hops {values['hops']} is outside 1..{MAX_HOPS}",
                         f"{name} follows at most {MAX_HOPS} links; "
                         "for a wider view raise min_score or start from another number")
    if "case" in wanted:
        values["case"] = case
    missing = sorted(wanted - set(values))
    if missing:
        examples = " ".join(f"-p {m}={doc.param(m).literal.strip(chr(39))}" if doc.param(m) else f"-p {m}=VALUE"
                            for m in missing)
        raise UsageError(f"query {name} needs parameter(s): {', '.join(missing)}", f"pass them, e.g. {examples}")
    return values


def display(value: Any) -> Any:
    """A result value as an analyst reads it in a terminal or CSV (nodes by key, paths as chains)."""
    from neo4j.graph import Node, Path, Relationship
    from neo4j.time import DateTime

    if isinstance(value, Node):
        props = dict(value)
        for key in ("msisdn", "name", "imei", "imsi", "cell_id", "file_name"):
            if key in props:
                return props[key]
        return ":".join(sorted(value.labels))
    if isinstance(value, Relationship):
        return f"{value.type} {value.get('evidence', '')}".strip()
    if isinstance(value, Path):
        return " - ".join(str(display(n)) for n in value.nodes)
    if isinstance(value, DateTime):
        text = value.iso_format()
        return re.sub(r"\.0+(?=[+-Z]|$)", "", text)
    if isinstance(value, list):
        return ", ".join(str(display(v)) for v in value)
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return str(value)


def run(driver: Any, name: str, values: dict[str, Any], database: str | None = None) -> list[dict[str, Any]]:
    """Run an analyst query and return its rows with the driver's own values (nodes, paths, times).

    Unlike ``connection.read`` (which flattens nodes to dicts), rows keep the graph types so
    ``display`` can show a node by its key and a path as a chain. A query that changes the
    graph (mark_suspect) runs in a write transaction.
    """
    from neo4j import RoutingControl
    from neo4j.exceptions import ClientError, ServiceUnavailable, SessionExpired, TransientError

    from cdrnet.cypher import query
    from cdrnet.errors import GraphError
    from cdrnet.graph.connection import refuse_memory

    text, params = query(f"queries/{name}", values)
    routing = RoutingControl.WRITE if query_doc(name).writes else RoutingControl.READ
    try:
        records, _, _ = driver.execute_query(text, params, database_=database, routing_=routing)
    except (ServiceUnavailable, SessionExpired) as exc:
        raise GraphError(f"lost the connection to Neo4j: {exc}") from exc
    except ClientError as exc:
        raise GraphError(f"query {name} failed: {exc.message}") from exc
    except TransientError as exc:  # what the driver's retries for 30 s did not get past
        refuse_memory(exc, f"query {name}")
        raise GraphError(f"query {name} failed: {exc.message}") from exc
    return [dict(r.items()) for r in records]
