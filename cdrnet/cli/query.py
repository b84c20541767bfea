"""``query``: run the documented analyst queries of cypher/queries/ against Neo4j."""

from __future__ import annotations

import re
from importlib import resources

import click
import pandas as pd

from cdrnet.cli.common import AppContext
from cdrnet.errors import UsageError


def query_names() -> list[str]:
    folder = resources.files("cdrnet.cypher") / "queries"
    return sorted(p.name[: -len(".cypher")] for p in folder.iterdir() if p.name.endswith(".cypher"))


def _value(text: str) -> object:
    """Small numbers and true/false are typed; identifiers (phone numbers, IMEIs) stay text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?\d{1,9}", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return float(text)
    return text


@click.command("query")
@click.argument("name", required=False)
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Query parameter (numbers up to 9 digits and true/false are typed; phone numbers stay text).")
@click.option("--csv", "as_csv", type=click.Path(dir_okay=False), default=None, help="Also write the rows as CSV.")
@click.pass_obj
def query_cmd(app: AppContext, name: str | None, params: tuple[str, ...], as_csv: str | None) -> None:
    """Run an analyst query from cypher/queries/ on Neo4j (no NAME: list them).

    \b
    Examples:
      cdrnet query
      cdrnet --neo4j bolt://127.0.0.1:7687 query strongest_links -p limit=10
      cdrnet --neo4j bolt://127.0.0.1:7687 query suspect_network -p msisdn=919812345678 -p hops=2 -p min_score=5
    """
    from cdrnet.cypher import header_doc, load, parameters

    if not name:
        for q in query_names():
            click.echo(f"{q}\n  " + header_doc(f"queries/{q}").replace("\n", "\n  "))
        return
    if name not in query_names():
        raise UsageError(f"no analyst query '{name}'", f"choose one of: {', '.join(query_names())}")
    values: dict[str, object] = {"case": app.case}  # queries are scoped to the case (--case)
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--param {item}: expected NAME=VALUE")
        values[key.strip()] = _value(value)
    wanted = parameters(load(f"queries/{name}"))
    values = {k: v for k, v in values.items() if k in wanted or k != "case"}
    missing = sorted(wanted - set(values))
    if missing:
        raise UsageError(f"query {name} needs parameter(s): {', '.join(missing)}", "pass them with -p NAME=VALUE")
    rows = app.open().store.query(f"queries/{name}", values)
    frame = pd.DataFrame([{k: (str(v) if not isinstance(v, int | float | str | bool) and v is not None else v)
                           for k, v in r.items()} for r in rows])
    click.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
    if as_csv:
        frame.to_csv(as_csv, index=False)
