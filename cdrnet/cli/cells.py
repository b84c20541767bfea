"""``cells``: cell positions (import a CGI chart or OpenCelliD list, see coverage, one cell, the place view)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from cdrnet.cli.common import AppContext
from cdrnet.csvsafe import write_csv


@click.group("cells")
def cells_cmd() -> None:
    """Cell positions and the place view.

    A cell's position comes from the dump's own columns (Airtel CGI Lat/Long, DoT
    Latitude/Longitude, BSNL Lat-/Long- in the location text), else an imported CGI
    chart, else an imported OpenCelliD / Mozilla Location Service CSV. Nothing is
    looked up online: case data stays on this machine.

    \b
    Examples:
      cdrnet cells import cgi_chart_airtel.csv 404.csv.gz
      cdrnet cells list                 # coverage, and WORKSPACE/cells.csv
      cdrnet cells show 404-70-166-10000
      cdrnet cells map --suspect 919812345678
    """


@cells_cmd.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.pass_obj
def cells_import_cmd(app: AppContext, paths: tuple[str, ...]) -> None:
    """Import cell-site lists: an operator's CGI chart or an OpenCelliD / MLS CSV (.csv, .gz, .zip, .xlsx).

    Every line is loaded, rejected with a reason (WORKSPACE/cells/<sha256>_rejects.csv)
    or skipped as non-data, and the counts are printed. A list is kept once, keyed by
    its SHA-256. OpenCelliD data is CC BY-SA: import what you downloaded, cdrnet ships none.

    \b
    Examples:
      cdrnet cells import cgi_chart.csv
      cdrnet -w case42 cells import ~/opencellid/404.csv.gz ~/opencellid/405.csv.gz
    """
    case = app.open()
    result = case.import_cells(list(paths))
    for rep in result.loaded:
        click.echo(rep.summary())
        if rep.rejected_total:
            where = case.store.outputs / "cells" / f"{rep.sha256}_rejects.csv"
            click.echo(f"  rejected lines with line and reason: {where}")
    for name, sha in result.unchanged:
        click.echo(f"{name}\n  already imported (sha256 {sha}): nothing changed")
    for name, reason in result.refused:
        click.echo(f"{name}\n  refused: {reason}", err=True)
    if result.note:
        click.echo(result.note)
    click.echo(f"{len(result.loaded)} list(s) imported, {len(result.unchanged)} unchanged, "
               f"{len(result.refused)} refused; {case.store.describe()}")
    if result.refused and not (result.loaded or result.unchanged):
        raise SystemExit(1)


@cells_cmd.command("list")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="CSV of every cell with its position and source [default: WORKSPACE/cells.csv].")
@click.option("--top", type=click.IntRange(0), default=20, show_default=True, help="Cells shown on screen.")
@click.pass_obj
def cells_list_cmd(app: AppContext, out: str | None, top: int) -> None:
    """Coverage: how many of the case's cells have a position, and from which source; CSV of all cells.

    \b
    Examples:
      cdrnet cells list
      cdrnet cells list --top 0 --out cells_for_the_report.csv
    """
    from cdrnet.analysis.places import coverage, coverage_text

    case = app.open()
    placed = case.cells()
    for rep in case.store.cell_lists():
        click.echo(f"list: {rep.summary()}")
    click.echo(coverage_text(coverage(placed)))
    target = Path(out) if out else case.output("cells.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    table = placed.assign(first_utc=placed["first_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          last_utc=placed["last_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    write_csv(table, target)
    if top:
        shown = placed.sort_values(["sessions", "cell_id"], ascending=[False, True]).head(top)
        click.echo(f"{'cell':<24} {'sessions':>9} {'calls':>7} {'subscribers':>11}  position")
        for r in shown.itertuples(index=False):
            where = "none"
            if pd.notna(r.source):
                how = "" if r.matched_by in ("key", "dump") else f", matched by {r.matched_by}"
                where = f"{r.lat:.5f}, {r.lon:.5f} ({r.source}{how})"
            click.echo(f"{r.cell_id:<24} {r.sessions:>9,} {r.calls:>7,} {r.subscribers:>11,}  {where}")
    click.echo(f"written {target} (first_utc/last_utc in UTC)")


@cells_cmd.command("show")
@click.argument("cell")
@click.option("--tz", default=None, help="Zone for the times shown [default: the zone the case was ingested in].")
@click.pass_obj
def cells_show_cmd(app: AppContext, cell: str, tz: str | None) -> None:
    """One cell in any of its forms (404-70-166-10000, 404700016610000, Jio hex): its position, who was there.

    \b
    Examples:
      cdrnet cells show 404-70-166-10000
      cdrnet cells show 4058740000e718 --tz UTC
    """
    from cdrnet.analysis.places import presence
    from cdrnet.errors import UsageError
    from cdrnet.loader.cells import canonical_cell, resolve_digits

    case = app.open()
    placed = case.cells()
    key = canonical_cell(cell)
    key = str(resolve_digits(pd.Series([key], dtype="string"), placed["cell_id"].astype("string")).iloc[0])
    hit = placed[placed["cell_id"] == key]
    if hit.empty and key.isdigit():
        hit = placed[placed["cell_id"] == canonical_cell(cell, hex_eci=True)]
    if hit.empty:
        raise UsageError(f"no cell {cell} (key {key}) in this case", "run 'cdrnet cells list' to see the case's cells")
    r = hit.iloc[0]
    zone = tz or case.zone
    click.echo(f"cell {r.cell_id} (as written: {r.cell_raw}){f', {r.cell_name}' if r.cell_name else ''}")
    if pd.notna(r.lat):
        listed = f", list {str(r.list_sha256)[:12]} line {int(r.source_line)}" if pd.notna(r.list_sha256) else ""
        click.echo(f"position {r.lat:.6f}, {r.lon:.6f} from {r.source} (matched by {r.matched_by}{listed})"
                   + (f", site {r.site_name}" if pd.notna(r.site_name) and r.site_name else ""))
    else:
        click.echo("position: none (import a CGI chart or an OpenCelliD list: cdrnet cells import FILE)")
    seen = presence(case.sightings(), hit["cell_id"], zone)
    click.echo(f"{int(r.sessions):,} session(s) and {int(r.calls):,} call event(s) of {int(r.subscribers):,} "
               f"subscriber(s); times in {zone}")
    for s in seen.itertuples(index=False):
        click.echo(f"  {s.msisdn}  {s.day}  {s.first}-{s.last}  {s.records:,} session(s)/call(s)")


@cells_cmd.command("map")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write [default: WORKSPACE/places.html].")
@click.option("--suspect", "suspects", multiple=True, help="Ring the cells where this number was seen (repeatable).")
@click.option("--since", default=None, help="Only sessions from this time (ISO; in --tz unless it has an offset).")
@click.option("--until", default=None, help="Only sessions before this time (ISO; in --tz unless it has an offset).")
@click.option("--tz", default=None, help="Zone for days and times [default: the zone the case was ingested in].")
@click.option("--title", default="cdrnet places", show_default=True)
@click.option("--pseudonymize", is_flag=True, help="Keyed tokens instead of numbers (key in CDRNET_PSEUDONYM_KEY).")
@click.pass_obj
def cells_map_cmd(app: AppContext, out: str | None, suspects: tuple[str, ...], since: str | None, until: str | None,
                  tz: str | None, title: str, pseudonymize: bool) -> None:
    """The place view: cells at their latitude/longitude with the subscribers seen there, a day slider,
    offline (no tile server, no network request).

    \b
    Examples:
      cdrnet cells map
      cdrnet cells map --suspect 919812345678 --since 2026-03-01 --out suspect_places.html
    """
    case = app.open()
    path = case.write_place_map(out, suspects, since, until, tz, title, pseudonymize)
    click.echo(f"written {path}")
