"""``ingest``, ``dumps`` and ``signatures``: getting dumps in and seeing what is there."""

from __future__ import annotations

import click

from cdrnet.cli.common import AppContext, date_order_option, input_options, zone_option


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@input_options
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parsing workers (default: env CDRNET_WORKERS, else chosen from the input: up to 4 for "
                   "several dumps of 128 MB or more in all, 1 otherwise): processes that parse whole dumps "
                   "each when a run holds several (a case folder; each extra process needs ~300 MB), else "
                   "threads that normalise the blocks of one big dump. The result is the same as with one.")
@click.option("--replace", is_flag=True,
              help="Read dumps that are already loaded again (e.g. with a corrected --tz or --date-order): "
                   "their rows, rejects and counts replace the stored ones.")
@click.pass_obj
def ingest_cmd(app: AppContext, paths: tuple[str, ...], layout_file: str | None, tz: str, country_code: str,
               signatures: str, extra_signatures: tuple[str, ...], workers: int | None, replace: bool) -> None:
    """Parse dumps (files, folders, .zip, .gz, .xlsx) into the workspace.

    Each dump is stored once, keyed by its SHA-256: ingesting it again changes
    nothing. Every line is loaded, rejected (see rejects.csv) or skipped as
    non-data, and the counts are printed.

    \b
    Examples:
      cdrnet ingest case42/exports/
      cdrnet -w case42 ingest airtel_9876543210.csv jio.zip
      cdrnet ingest --layout myoperator.toml odd_export.csv
      cdrnet ingest --signatures paper dump.csv     # the paper's port table
      cdrnet ingest --workers 2 case42/exports/    # 2 dumps at a time
      cdrnet ingest --workers 2 tower_dump.csv     # one big dump's blocks on 2 threads
      cdrnet ingest --date-order mdy excel_resaved.csv   # 07/14/2023 dates
      cdrnet ingest --tz Europe/London --replace uk_dump.csv  # read a loaded dump again

    One ingest at a time per workspace: a second one is told the workspace is busy.
    """
    from cdrnet.allocator import keep_heap
    from cdrnet.loader.workers import default_workers, start_early, stop_fork_server

    keep_heap()
    count = workers or default_workers()
    # Before this process loads pandas and Arrow: the parsing workers' fork server loads them on the
    # other core meanwhile (loader/workers.py), when the input looks like a case for workers.
    start_early(paths, count, whole_dumps=not replace and not app.neo4j_uri)
    try:
        _ingest(app, paths, layout_file, tz, country_code, signatures, extra_signatures, count, replace)
    finally:
        stop_fork_server()


def _ingest(app: AppContext, paths: tuple[str, ...], layout_file: str | None, tz: str, country_code: str,
            signatures: str, extra_signatures: tuple[str, ...], workers: int, replace: bool) -> None:
    """``cdrnet ingest`` once the workers are settled: the run, then its counts and hints."""
    from cdrnet.loader.sources import NOT_A_DUMP, SKIPPED_KINDS

    case = app.open()

    def show(report) -> None:
        for line in report.summary_lines():
            click.echo(line)

    def unchanged(name: str, sha: str) -> None:
        click.echo(f"{name}\n  already loaded (sha256 {sha}): nothing changed")

    result = case.ingest(list(paths), layout=layout_file, signatures=signatures, workers=workers,
                         progress=not app.quiet, on_report=show, on_unchanged=unchanged, tz=tz,
                         country_code=country_code, extra_signatures=extra_signatures, date_order=date_order_option(),
                         replace=replace)
    for name, sha, differs in result.differing:
        click.echo(f"{name}\n  already loaded (sha256 {sha}) with other options: {'; '.join(differs)}; "
                   "nothing changed", err=True)
    for cl in result.cell_lists:
        click.echo(f"{cl.summary()}\n  cell positions kept for the place view (cdrnet cells list)")
    for r in result.refused:
        label = ("skipped" if r.kind == "skipped" else "skipped (not a dump)" if r.kind == NOT_A_DUMP
                 else f"refused ({r.kind})" if r.kind else "refused")
        click.echo(f"{r.name}\n  {label}: {r.reason}", err=True)
    hints = list(dict.fromkeys(r.hint for r in result.refused if r.hint))
    loaded = sum(r.loaded for r in result.loaded if r.kind == "sessions")
    calls = sum(r.loaded for r in result.loaded if r.kind == "calls")
    rejected = sum(r.rejected_total for r in result.loaded)
    # Sessions other dumps delivered too (operators' re-sends): counted in each dump's "loaded", so
    # the total says how many, lest it be read as distinct sessions (``dumps`` gives the distinct count).
    again = sum(r.duplicates_of_other_dumps for r in result.loaded if r.kind == "sessions")
    # Archive junk (__MACOSX/, Thumbs.db, ...) and files beside the dumps that are not dumps (a PDF,
    # truth.csv, a README) are reported as skipped, never counted as a refusal: they fail no run.
    refused = [r for r in result.refused if r.kind not in SKIPPED_KINDS]
    skipped = len(result.refused) - len(refused)
    click.echo(
        f"{len(result.loaded)} dump(s) loaded ({loaded:,} sessions, "
        + (f"{again:,} of them also in other dumps, " if again else "")
        + (f"{calls:,} call events, " if calls else "") + f"{rejected:,} rejected rows"
        + (f"; {len(result.replaced)} replacing an earlier load" if result.replaced else "") + "), "
        f"{len(result.unchanged) + len(result.differing)} unchanged, {len(refused)} refused, "
        + (f"{skipped} skipped (not dumps), " if skipped else "")
        + f"{len(result.failed)} failed; {case.store.describe()}"
    )
    if rejected:
        click.echo(f"rejected rows with file, line and reason: {case.store.rejects.combined}")
    for _name, exc in result.failed:
        click.echo(f"error: {exc}", err=True)
    for r in result.nothing_loaded:
        why = ", ".join(f"{k}={v}" for k, v in sorted(r.rejected.items()))
        click.echo(f"error: {r.name}: every row was rejected ({why}): nothing loaded", err=True)
    if result.failed:
        click.echo(f"hint: {result.failed[0][1].hint}", err=True)
        raise SystemExit(1)
    if result.nothing_loaded:
        click.echo("hint: see rejects.csv for each line's reason; fix the file or the options (--tz, --date-order, "
                   "--layout) and ingest it again: a dump with nothing loaded is read again", err=True)
        raise SystemExit(1)
    for h in hints:
        click.echo(f"hint: {h}", err=True)
    if result.differing:
        click.echo("hint: add --replace to read them again with these options (their rows, rejects and counts "
                   "are replaced)", err=True)
        raise SystemExit(1)
    if refused and not (result.loaded or result.unchanged):
        raise SystemExit(1)


@click.command("dumps")
@click.option("--verbose", "-v", is_flag=True, help="Show the full data-quality summary of each dump.")
@zone_option()
@click.pass_obj
def dumps_cmd(app: AppContext, verbose: bool, tz: str | None) -> None:
    """List the dumps loaded in the workspace (name, hash, size, layout, counts, ingest time, period).

    Periods, time spans and ingest times are shown in the case's zone, which the
    output names.

    \b
    Examples:
      cdrnet dumps
      cdrnet -w case42 dumps -v
    """
    from cdrnet.clock import shown

    case = app.open()
    reports = case.dumps()
    tz = case.zone_or_case(tz)
    if not reports:
        click.echo(f"{case.store.describe()} holds no dumps (run 'cdrnet ingest PATH')")
        return
    for r in reports:
        if verbose:
            for line in r.summary_lines(tz):
                click.echo(line)
            click.echo(f"  ingested {shown(r.ingested_at, tz)} {tz} by cdrnet {r.cdrnet_version}, naive times read "
                       f"in {r.tz or 'UTC'}, signatures {r.signatures}")
        else:
            size = f"{r.size:,}" if r.size is not None else "?"
            click.echo(
                f"{r.sha256[:16]}  {r.layout:<12} {r.loaded:>11,} loaded {r.rejected_total:>9,} rejected "
                f"{size:>13} B  {shown(r.ingested_at, tz, '%Y-%m-%d %H:%M')}  v{r.cdrnet_version}  {r.name}"
            )
            click.echo(f"{'':16}  period {r.period_text(tz)}"
                       + (f"; {r.rows_outside_period} row(s) outside it" if r.rows_outside_period else ""))
            if r.duplicates_of_other_dumps:
                click.echo(f"{'':16}  {r.duplicates_of_other_dumps:,} of its sessions delivered before by another "
                           "dump (a re-send: that dump's copy is kept)")
            for m in r.no_records_for:
                click.echo(f"{'':16}  no records for {m} in period {r.period_text(tz)}")
    click.echo(f"times in {tz} (the case's zone" + (")" if tz == case.zone else f" is {case.zone})"))
    total = sum(r.loaded for r in reports if r.kind == "sessions")
    calls = sum(r.loaded for r in reports if r.kind == "calls")
    again = sum(r.duplicates_of_other_dumps for r in reports)
    click.echo(f"{len(reports)} dump(s), {total:,} sessions" + (f", {calls:,} call events" if calls else "")
               + (f" ({total - again:,} distinct: {again:,} delivered again by an overlapping dump, an operator "
                  "re-send; the analysis commands count them once, as the first-ingested dump's copy)"
                  if again else ""))
    unfinished = case.incomplete_dumps()
    if unfinished:  # not among the dumps above: said, so the count is not taken for the case's
        click.echo(f"note: {len(unfinished)} dump(s) not completely loaded and not counted above: "
                   f"{', '.join(unfinished)}; ingest them again (a load that died, or sessions handed to them "
                   "when a dump was read again)")


@click.command("signatures")
@click.option("--signatures", "signatures", default="modern", show_default=True,
              help="'modern', 'paper' or a CSV file.")
@click.option("--extra-signatures", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV rows that extend/override the table (repeatable).")
@click.option("--csv", "as_csv", is_flag=True, help="Print as CSV.")
@click.option("--unknown", "unknown", is_flag=True,
              help="Instead: the case's top unidentified (port, /16 prefix) destinations, to extend the table.")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True, help="Rows shown with --unknown.")
@click.pass_obj
def signatures_cmd(app: AppContext, signatures: str, extra_signatures: tuple[str, ...], as_csv: bool, unknown: bool,
                   top: int) -> None:
    """Print the application signature table in use, in precedence order, with sources and dates.

    \b
    Examples:
      cdrnet signatures
      cdrnet signatures --signatures paper
      cdrnet signatures --extra-signatures our_ranges.csv --csv
      cdrnet signatures --unknown        # what the loaded case could not identify
    """
    from cdrnet.csvsafe import csv_text
    from cdrnet.loader.signatures import load_signatures, table_frame

    if unknown:
        from cdrnet.loader.signatures import unknown_destinations

        table = unknown_destinations(app.open().sessions(), top)
        if as_csv:
            click.echo(csv_text(table), nl=False)
        elif table.empty:
            click.echo("every session with a destination was identified")
        else:
            click.echo(table.to_string(index=False))
        return
    frame = table_frame(load_signatures(signatures, list(extra_signatures)))
    if as_csv:
        click.echo(csv_text(frame), nl=False)
        return
    for tier, rows in frame.groupby("tier", sort=False):
        click.echo(f"[{tier}]")
        for _, r in rows.iterrows():
            dates = f"{r.valid_from or '…'}..{r.valid_to or '…'}"
            click.echo(f"  {r.app:<36} {r.proto:<4} ports {r.ports:<18} {dates:<23} {r.confidence}")
            click.echo(f"      prefixes: {r.prefixes}")
            click.echo(f"      source: {r.source} ({r.origin})")
