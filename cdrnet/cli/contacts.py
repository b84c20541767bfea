"""``contacts``, ``common``, ``chain`` and ``towers``: direct contacts and places from call records."""

from __future__ import annotations

import click
import pandas as pd

from cdrnet.cli.common import SHOW_TZ_HELP, AppContext, zone_option
from cdrnet.errors import UsageError


def _night(text: str) -> tuple[int, int]:
    try:
        lo, hi = (int(x) for x in text.split("-"))
    except ValueError as exc:
        raise UsageError(f"--night '{text}' must be two hours FROM-TO, e.g. 22-6") from exc
    if not (0 <= lo <= 23 and 0 <= hi <= 23) or lo == hi:
        raise UsageError(f"--night '{text}' must be two different hours 0-23, e.g. 22-6")
    return lo, hi


def _when(ts: pd.Series, tz: str) -> pd.Series:
    return ts.dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False) if len(frame) else "  (none)"


@click.command("contacts")
@click.argument("msisdn", required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the CSVs [default: WORKSPACE/contacts].")
@zone_option(SHOW_TZ_HELP + " Also the zone of the CSVs' times (written with their offset).")
@click.option("--night", default="22-6", show_default=True, help="Night hours FROM-TO in --tz (night calls).")
@click.option("--top", type=int, default=10, show_default=True, help="How many pairs to print without MSISDN.")
@click.pass_obj
def contacts_cmd(app: AppContext, msisdn: str | None, out_dir: str | None, tz: str | None, night: str,
                 top: int) -> None:
    """Direct contacts from call records: who called or texted whom, how often, how long, when.

    With MSISDN: that number's contacts, most frequent first (Top 10 and Bottom 10), calls
    and SMS each way, seconds, night calls, first and last contact, and the devices and SIMs
    it used (IPDR and CDR together, so a handset or SIM change shows). Without: every pair of
    the case. A call seen in both parties' CDRs (or a tower dump) counts once. CSV columns:
    a,b,calls,sms,seconds,first,last (a called or texted b; times in --tz with their offset).

    \b
    Examples:
      cdrnet contacts
      cdrnet contacts 919812345678 --night 23-5
    """
    hours = _night(night)
    case = app.open()
    tz = case.zone_or_case(tz)
    if msisdn is None:
        agg = case.called()
        paths = case.write_contacts(None, out_dir, tz)
        click.echo(f"{len(agg):,} caller -> callee pair(s), {int(agg['calls'].sum()):,} calls, "
                   f"{int(agg['sms'].sum()):,} SMS (times in {tz})")
        shown = agg.assign(n=agg["calls"] + agg["sms"]).sort_values(["n", "seconds"], ascending=False).head(top)
        shown = shown.assign(first=_when(shown["first_utc"], tz), last=_when(shown["last_utc"], tz))
        click.echo(_table(shown[["a", "b", "calls", "sms", "seconds", "first", "last"]]))
        click.echo(f"written {paths[0]}")
        return
    c = case.contacts(msisdn, tz, hours)
    inside = case.case_numbers()
    t = c.table
    shown = t.assign(first=_when(t["first_utc"], tz), last=_when(t["last_utc"], tz),
                     in_case=t["contact"].isin(inside).map({True: "yes", False: "no"}))
    cols = ["contact", "in_case", "calls_out", "calls_in", "sms_out", "sms_in", "seconds", "night_calls", "first",
            "last"]
    calls = int(t["calls_out"].sum() + t["calls_in"].sum())
    sms = int(t["sms_out"].sum() + t["sms_in"].sum())
    click.echo(f"{c.msisdn}: {len(t):,} contact(s), {calls:,} calls, {sms:,} SMS, "
               f"{int(t['night_calls'].sum()):,} night calls ({hours[0]:02d}:00-{hours[1]:02d}:00); times in {tz}")
    if len(t):
        click.echo(f"first contact {shown['first'].min()}, last contact {shown['last'].max()}")
    click.echo(f"Top {min(10, len(t))}:")
    click.echo(_table(shown[cols].head(10)))
    click.echo(f"Bottom {min(10, len(t))} (least frequent):")
    click.echo(_table(shown[cols].iloc[::-1].head(10)))
    devices, sims = case.equipment(c.msisdn, tz)
    for name, frame in (("devices (IMEI)", devices), ("SIMs (IMSI)", sims)):
        change = " - changed" if len(frame) > 1 else ""
        click.echo(f"{name}, from IPDR sessions and call records{change}:")
        click.echo(_table(frame))
    for p in case.write_contacts(c.msisdn, out_dir, tz, hours):
        click.echo(f"written {p}")


@click.command("common")
@click.argument("msisdns", nargs=-1, required=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="CSV of the common contacts [default: WORKSPACE/contacts/common.csv].")
@click.pass_obj
def common_cmd(app: AppContext, msisdns: tuple[str, ...], out_path: str | None) -> None:
    """Common contacts: numbers that called or texted (or were called or texted by) every one of MSISDNS.

    Per common contact: calls + SMS with each given number, and the total.

    \b
    Examples:
      cdrnet common 919812345678 919887654321
      cdrnet common 919812345678 919887654321 919800000001 --out common.csv
    """
    from pathlib import Path

    from cdrnet.csvsafe import csv_text
    from cdrnet.files import atomic_write_bytes

    case = app.open()
    table = case.common(msisdns)
    inside = case.case_numbers()
    table = table.assign(in_case=table["contact"].isin(inside).map({True: "yes", False: "no"}))
    click.echo(f"{len(table):,} common contact(s) of {', '.join(c for c in table.columns[1:-2])} "
               f"(calls + SMS with each)")
    click.echo(_table(table))
    path = Path(out_path) if out_path else case.output("contacts") / "common.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, csv_text(table).encode())
    click.echo(f"written {path}")


@click.command("chain")
@click.argument("a")
@click.argument("b")
@click.option("--max-hops", type=click.IntRange(1, 8), default=4, show_default=True,
              help="Longest chain searched (calls or SMS between consecutive numbers).")
@click.pass_obj
def chain_cmd(app: AppContext, a: str, b: str, max_hops: int) -> None:
    """The shortest chains of direct contacts (calls or SMS, either way) from A to B.

    \b
    Examples:
      cdrnet chain 919812345678 919887654321
      cdrnet chain 919812345678 919887654321 --max-hops 6
    """
    case = app.open()
    chains = case.chains(a, b, max_hops)
    if not chains:
        click.echo(f"no chain of at most {max_hops} direct contact(s) between {a} and {b}")
        return
    inside = case.case_numbers()
    click.echo(f"{len(chains)} shortest chain(s) of {len(chains[0]) - 1} direct contact(s) "
               f"(* = outside the case):")
    for chain in chains:
        click.echo("  " + " -- ".join(n if n in inside else f"{n}*" for n in chain))


@click.command("towers")
@click.argument("dumps", nargs=-1)
@click.option("-k", "k", type=int, default=None,
              help="Numbers present in at least K of the tower dumps [default: all of them].")
@zone_option("Zone of the times shown and of times in DUMP@FROM/TO without an offset [default: the case's zone, "
             "the one its dumps were ingested in].")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="CSV of the numbers found [default: WORKSPACE/contacts/towers.csv].")
@click.pass_obj
def towers_cmd(app: AppContext, dumps: tuple[str, ...], k: int | None, tz: str | None, out_path: str | None) -> None:
    """Numbers seen in at least K of N tower dumps, and who was at several places at the right times.

    DUMP names a loaded tower dump by its file, file name or SHA-256 prefix (all of the
    case's when none is named). DUMP@FROM/TO counts only that dump's rows in the window (in
    --tz unless the times carry an offset): the number must have been there then.

    \b
    Examples:
      cdrnet towers                                   # in all of the case's tower dumps
      cdrnet towers scene.csv hideout.csv border.csv -k 2
      cdrnet towers scene.csv@2026-03-14T21:00/2026-03-14T23:30 hideout.csv@2026-03-15T00:00/2026-03-15T02:00
    """
    from pathlib import Path

    from cdrnet.csvsafe import csv_text
    from cdrnet.files import atomic_write_bytes

    case = app.open()
    tz = case.zone_or_case(tz)
    res = case.towers(dumps, k, tz)
    click.echo(f"{len(res.table):,} number(s) seen in at least {res.k} of {len(res.places)} tower dump(s) "
               f"(times in {tz}):")
    for i, p in enumerate(res.places, 1):
        window = ""
        if p.since is not None or p.until is not None:
            lo = p.since.tz_convert(tz).strftime("%Y-%m-%d %H:%M") if p.since is not None else "start"
            hi = p.until.tz_convert(tz).strftime("%Y-%m-%d %H:%M") if p.until is not None else "end"
            window = f", only {lo} .. {hi}"
        there = res.numbers_at[i - 1] if res.numbers_at else None
        count = "" if there is None else f": {there:,} number(s) there" if there else \
            ": nobody there (an empty export, or no call in the window)"
        click.echo(f"  place {i}: cell {p.label} ({p.name}{window}){count}")
    table = res.table.copy()
    if "in_case" in table:
        table["in_case"] = table["in_case"].map({True: "yes", False: "no"})
    click.echo(_table(table))
    path = Path(out_path) if out_path else case.output("contacts") / "towers.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, csv_text(table).encode())
    click.echo(f"written {path}")
