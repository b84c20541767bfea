"""``query``: run the documented analyst queries of cypher/queries/ against Neo4j."""

from __future__ import annotations

import click
import pandas as pd

from cdrnet.cli.common import AppContext
from cdrnet.csvsafe import write_csv
from cdrnet.errors import UsageError


@click.command("query")
@click.argument("name", required=False)
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Query parameter; unset ones take the query's documented default. Phone numbers may be "
                   "written +91…, 0… or with 10 digits.")
@click.option("--country-code", default="91", show_default=True, help="Country code of national numbers in -p.")
@click.option("--csv", "as_csv", type=click.Path(dir_okay=False), default=None, help="Also write the rows as CSV.")
@click.pass_obj
def query_cmd(app: AppContext, name: str | None, params: tuple[str, ...], country_code: str,
              as_csv: str | None) -> None:
    """Run an analyst query from cypher/queries/ on Neo4j (no NAME: list them).

    \b
    Examples:
      cdrnet query
      cdrnet --neo4j bolt://127.0.0.1:7687 query strongest_links -p limit=10
      cdrnet --neo4j bolt://127.0.0.1:7687 query suspect_network -p msisdn=+919812345678 -p hops=2
    """
    from cdrnet.graph.analyst import PHONE_PARAMS, display, prepare, query_doc, query_names, run

    if not name:
        for q in query_names():
            doc = query_doc(q)
            ps = " ".join(f"{p.name}={p.literal.strip(chr(39))}" + ("" if p.default else "?")
                          for p in doc.params if p.name != "case")
            click.echo(f"{q}: {doc.title}\n  {doc.description}\n  parameters: {ps or 'none'}"
                       " (? = example, no default)")
        return
    given: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--param {item}: expected NAME=VALUE", "e.g. -p limit=10")
        given[key.strip()] = value.strip()
    values = prepare(name, given, app.case, country_code)
    store = app.open().store
    driver = getattr(store, "driver", None)
    if driver is None:
        raise UsageError(f"the analyst query {name} runs on Neo4j", "pass --neo4j URI (or set NEO4J_URI)")
    from cdrnet.graph.connection import read

    numbers = [values[k] for k in PHONE_PARAMS if k in values]
    if numbers:
        known = set(read(driver, "subscribers_known", {"case": app.case, "msisdns": numbers},
                         app.database)[0]["known"])
        unknown = [n for n in numbers if n not in known]
        if unknown:
            raise UsageError(f"unknown subscriber {', '.join(unknown)} in case '{app.case}'",
                             "list the case's numbers with `cdrnet dumps -v`, or choose the case with --case")
    rows = run(driver, name, values, app.database)
    frame = pd.DataFrame([{k: display(v) for k, v in r.items()} for r in rows])
    click.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
    if as_csv:
        write_csv(frame, as_csv)
