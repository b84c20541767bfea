"""The Python API: one case, on either store, with every analysis the CLI offers.

The commands in ``cdrnet/cli/`` parse options and print; everything they do is
here, so a notebook gets exactly what an analyst gets on the command line::

    import cdrnet
    case = cdrnet.Case(workspace="case42")           # or Case(neo4j="bolt://...", case="case42")
    case.ingest(["exports/"])
    edges = case.link(window_s=120)                  # the edges.csv table
    case.write_map("case42.html")

MSISDN normalisation, edge writing and pseudonymisation live here once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cdrnet.clock import DEFAULT_TZ, case_zone, check_zone, parse_time
from cdrnet.csvsafe import csv_text
from cdrnet.errors import UsageError, WorkspaceError
from cdrnet.files import atomic_write_bytes
from cdrnet.store import SessionStore, default_case, open_store

if TYPE_CHECKING:
    from cdrnet.analysis.contacts import Contacts
    from cdrnet.analysis.cousage import LinkParams, LinkResult
    from cdrnet.analysis.evidence import Evidence
    from cdrnet.analysis.pair_report import PairReport
    from cdrnet.analysis.profile import Profile
    from cdrnet.analysis.summary import CaseSummary
    from cdrnet.analysis.towers import Presence
    from cdrnet.labels import Labels
    from cdrnet.loader.cellsites import CellListReport
    from cdrnet.loader.ingest import IngestResult
    from cdrnet.loader.quality import DumpReport
    from cdrnet.network import Network
    from cdrnet.viz.placemap import Places

EDGE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: Identifier columns and their pseudonym kind, wherever a table shows them.
PSEUDONYM_COLUMNS = {"a": "msisdn", "b": "msisdn", "msisdn": "msisdn", "imei": "imei", "imsi": "imsi"}


def normalise_numbers(values: Iterable[str], country_code: str = "91") -> list[str]:
    """Phone numbers as typed by an analyst, in the stored form (country code, digits only).

    Raises UsageError naming every value that is not a phone number, so a typo
    never silently selects nobody.
    """
    from cdrnet.loader.identifiers import clean_text, normalise_msisdn

    values = list(values)
    if not values:
        return []
    norm, reason = normalise_msisdn(clean_text(pd.Series(values, dtype="string")), country_code)
    bad = [v for v, r in zip(values, reason, strict=True) if pd.notna(r)]
    if bad:
        raise UsageError(f"not a phone number: {', '.join(bad)}")
    return norm.tolist()


def pseudonymize(frame: pd.DataFrame) -> pd.DataFrame:
    """Keyed tokens instead of numbers in every identifier column the frame has (key in CDRNET_PSEUDONYM_KEY)."""
    from cdrnet.pseudonym import pseudonymize_frame

    return pseudonymize_frame(frame, {c: k for c, k in PSEUDONYM_COLUMNS.items() if c in frame})


def format_edges(edges: pd.DataFrame) -> pd.DataFrame:
    """The edges.csv table: first/last co-usage as ISO UTC text."""
    out = edges.copy()
    for c in ("first_utc", "last_utc"):
        out[c] = pd.to_datetime(out[c], utc=True).dt.strftime(EDGE_TIME_FORMAT)
    return out


def write_edges(result: LinkResult, path: str | Path, pseudonymized: bool = False) -> pd.DataFrame:
    """Write edges.csv and its parameters beside it (edges.json); returns the table as written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    table = format_edges(result.edges)
    if pseudonymized:
        table = pseudonymize(table)
    atomic_write_bytes(target, csv_text(table).encode("utf-8"))
    meta = {"params": result.params.to_dict(), "subscribers": result.subscribers, "sessions": result.sessions}
    atomic_write_bytes(target.with_suffix(".json"), json.dumps(meta, indent=2).encode())
    return table


def link_overrides(tz: str = "UTC", **options: Any) -> dict[str, Any]:
    """Link options as LinkParams fields: ``since``/``until`` may be ISO text (without an offset
    read in ``tz``: the case's zone, as an analyst means "2024-03-05" on the case's clock),
    ``apps`` a comma-separated text; an unknown name is a UsageError."""
    from cdrnet.analysis.cousage import LinkParams

    out = dict(options)
    unknown = sorted(set(out) - set(LinkParams.__dataclass_fields__))
    if unknown:
        raise UsageError(f"unknown link option: {', '.join(unknown)}")
    for k in ("since", "until"):
        if isinstance(out.get(k), str):
            out[k] = parse_time(out[k], tz)
    if isinstance(out.get("apps"), str):
        out["apps"] = [a.strip() for a in out["apps"].split(",") if a.strip()] or None
    return out


def link_params(params: LinkParams | None = None, *, tz: str = DEFAULT_TZ, **options: Any) -> LinkParams:
    """LinkParams from keyword options, or ``params`` given whole (the CLI builds them from its
    options) with ``options`` replacing some fields.

    ``since``/``until`` may be ISO text: without an offset they are read in ``tz`` (the case's
    zone, as an analyst means "2024-03-05": that day on the case's clock).
    """
    import dataclasses

    from cdrnet.analysis.cousage import LinkParams

    options = link_overrides(tz, **options)
    if params is not None:
        return dataclasses.replace(params, **options) if options else params
    return LinkParams(**options)


def _require_in_calls(numbers: list[str], called: pd.DataFrame) -> None:
    """Refuse a number no call record holds: "no common contact" or "no chain" would read as a finding
    when the number was mistyped or its CDR never loaded."""
    seen = set(called["a"]) | set(called["b"])
    missing = [n for n in numbers if n not in seen]
    if missing:
        raise UsageError(f"no calls or SMS of {', '.join(missing)} in the call records",
                         "check the number, or run 'cdrnet dumps' to see what is loaded")


def read_options(tz: str = DEFAULT_TZ, country_code: str = "91", signatures: str = "modern",
                 extra_signatures: Iterable[str] = (), date_order: str = "auto"):  # noqa: ANN201 - loader Options
    """Validated options for reading dumps (zone, country code, signature table, date order)."""
    from cdrnet.loader.normalize import Options
    from cdrnet.loader.signatures import load_signatures

    check_zone(tz)
    if not country_code.isdigit() or not 1 <= len(country_code) <= 3:
        raise UsageError(f"country code '{country_code}' must be 1-3 digits")
    if date_order not in ("auto", "dmy", "mdy"):
        raise UsageError(f"date order '{date_order}' must be auto, dmy or mdy")
    return Options(tz=tz, country_code=country_code, rules=load_signatures(signatures, list(extra_signatures)),
                   date_order=date_order)


def read_layouts(layout: str | Path | None = None) -> list:
    """The built-in layouts, or only the one a mapping file describes."""
    from cdrnet.loader.layouts import builtin_layouts, load_layout_file

    return [load_layout_file(str(layout))] if layout else builtin_layouts()


def pair_from_files(a: str | Path, b: str | Path, layout: str | Path | None = None, all_apps: bool = False,
                    tz: str = DEFAULT_TZ, **options: Any) -> PairReport:
    """The paper's pair report straight from two dump files (no store: each file's rows are its period).

    ``tz`` is the zone of the files' naive times, of the times shown and of a textual since/until.
    """
    from cdrnet.analysis.pair_report import pair_report
    from cdrnet.loader.memory import parse_files

    read_keys = ("country_code", "signatures", "extra_signatures", "date_order")
    opts = read_options(tz=tz, **{k: options.pop(k) for k in read_keys if k in options})
    frame = parse_files([str(a), str(b)], read_layouts(layout), opts)
    ids = [frame.loc[frame["source_file"] == str(p), "msisdn"].mode() for p in (a, b)]
    if any(i.empty for i in ids):
        raise UsageError("one of the two files holds no sessions")
    return pair_report(frame, str(ids[0].iloc[0]), str(ids[1].iloc[0]), link_params(tz=tz, **options), tz=tz,
                       all_apps=all_apps)


@dataclass
class LinkRun:
    """A link run as the CLI reports it: the engine's result, the table as written and where."""

    result: LinkResult
    table: pd.DataFrame
    path: Path | None = None
    notes: list[str] = field(default_factory=list)


def _file_sha(ref: str) -> str:
    """SHA-256 of a file named on the command line ("" when ``ref`` is no file)."""
    import hashlib

    p = Path(ref)
    if not p.is_file():
        return ""
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _place_ref(text: str, tz: str) -> tuple[str, pd.Timestamp | None, pd.Timestamp | None]:
    """``DUMP`` or ``DUMP@FROM/TO`` -> (dump reference, since, until in UTC); naive times are in ``tz``."""
    if "@" not in text:
        return text, None, None
    ref, _, window = text.rpartition("@")
    lo, sep, hi = window.partition("/")
    if not sep:
        raise UsageError(f"'{text}': a time window is FROM/TO", "e.g. scene.csv@2026-03-14T21:00/2026-03-14T23:30")
    since, until = parse_time(lo, tz), parse_time(hi, tz)
    if since is not None and until is not None and since >= until:
        raise UsageError(f"'{text}': the window ends before it starts", "write DUMP@FROM/TO with FROM before TO")
    return ref, since, until


@dataclass
class CellImport:
    """What ``Case.import_cells`` did with every file: imported lists, lists already kept, refusals."""

    loaded: list[CellListReport] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)  # (name, sha)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    note: str | None = None  # where the positions were written (Neo4j), if anywhere


class Case:
    """One case on the embedded workspace or in Neo4j.

    ``Case(workspace=DIR)`` keeps everything in a folder; ``Case(neo4j=URI, case=NAME)``
    keeps sessions in Neo4j (several cases share one database and never mix) and
    writes outputs to ``workspace`` (default: a folder named after the case).
    """

    def __init__(self, workspace: str | Path | None = None, neo4j: str | None = None, case: str | None = None, *,
                 user: str | None = None, password: str | None = None, database: str | None = None,
                 store: SessionStore | None = None) -> None:
        if workspace is None:
            workspace = case if (neo4j and case) else "cdrnet-workspace"
        self.workspace = Path(workspace)
        self.name = case or default_case(self.workspace)
        self.store: SessionStore = store or open_store(self.workspace, neo4j, self.name, user=user,
                                                       password=password, database=database, create=False)

    # -- plumbing --------------------------------------------------------------------------------
    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def __repr__(self) -> str:
        return f"cdrnet.Case({self.store.describe()})"

    @property
    def zone(self) -> str:
        """The case's zone: the one its dumps were ingested in (``ingest --tz``); times shown to people use it."""
        return case_zone(self.store.reports())

    def zone_or_case(self, tz: str | None) -> str:
        """``tz`` when given (checked), else the case's zone: what every display command shows times in."""
        return check_zone(tz) if tz else self.zone

    def params(self, params: LinkParams | None = None, tz: str | None = None, **options: Any) -> LinkParams:
        """LinkParams with a textual since/until read in ``tz`` (default the case's zone)."""
        return link_params(params, tz=self.zone_or_case(tz), **options)

    def output(self, name: str) -> Path:
        """Where a derived output goes by default."""
        return self.store.outputs / name

    def sessions(self, since: pd.Timestamp | str | None = None, until: pd.Timestamp | str | None = None,
                 msisdns: Iterable[str] | None = None) -> pd.DataFrame:
        """Loaded sessions in [since, until) of these subscribers; raises WorkspaceError when none match."""
        numbers = normalise_numbers(msisdns) if msisdns is not None else None
        since = parse_time(since, self.zone) if isinstance(since, str) else since
        until = parse_time(until, self.zone) if isinstance(until, str) else until
        frame = self.store.sessions(since, until, numbers)
        if frame.empty:
            raise WorkspaceError("no sessions match the selection",
                                 "check --since/--until/--subscribers, or ingest first")
        return frame

    def _cell_calls(self, params: LinkParams, numbers: list[str]) -> pd.DataFrame | None:
        """The call events whose cells place ``numbers`` (co-location, as ``link`` reads them)."""
        if not params.colocation:
            return None
        calls = self.store.calls(params.since, params.until, numbers=numbers)
        return calls[calls["msisdn"].isin(set(numbers))]

    def _sessions_of(self, numbers: list[str], since: pd.Timestamp | None = None,
                     until: pd.Timestamp | None = None) -> pd.DataFrame:
        frame = self.sessions(since, until, numbers)
        missing = [m for m in numbers if m not in set(frame["msisdn"])]
        if missing:
            raise UsageError(f"no sessions for {', '.join(missing)}", "run 'cdrnet dumps' to see what is loaded")
        return frame

    # -- loading ---------------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], *, layout: str | Path | None = None, signatures: str = "modern",
               workers: int = 1, progress: bool = False, on_report: Callable[[DumpReport], None] | None = None,
               on_unchanged: Callable[[str, str], None] | None = None, replace: bool = False,
               **options: Any) -> IngestResult:
        """Parse dumps (files, folders, .zip, .7z, .rar, .gz, .xlsx, .xls, HTML tables) into the store.

        ``options`` as :func:`read_options`. ``workers``: parsing workers, processes for whole dumps
        when there are several (a script that asks for more than 1 must then guard its top level
        with ``if __name__ == "__main__":``), else threads for one big dump's blocks; 0 chooses from
        the input, as ``cdrnet ingest`` does. A dump already loaded is left alone (with other options,
        ``result.differing`` says what differs) unless ``replace``: then it is read again and its rows
        and counts replace the stored ones.
        """
        from cdrnet.loader.ingest import ingest_paths

        opts = read_options(signatures=signatures, **options)
        layouts = read_layouts(layout)
        self.store.create()
        result = ingest_paths([str(p) for p in paths], self.store, layouts, opts, signatures, show_progress=progress,
                              on_report=on_report, on_unchanged=on_unchanged, workers=workers, replace=replace)
        if self.store.stores_places and (result.loaded or result.cell_lists) and self.store.cell_lists():
            # New cells, or a chart that came with the dumps: their positions from the imported lists.
            self.store.write_places(self.cells())
        return result

    def dumps(self) -> list[DumpReport]:
        """Every loaded dump's report, oldest first."""
        return self.store.reports()

    def incomplete_dumps(self) -> list[str]:
        """File names of dumps the store holds part of without counting them (Neo4j: a load that
        died, or a dump to ingest again after another was read again); empty on the workspace."""
        return self.store.incomplete_dumps()

    def summary(self) -> dict[str, Any]:
        """What the case holds: store, dumps, sessions, subscribers, rejected rows."""
        reports = self.store.reports()
        subs = {m for r in reports for m in r.msisdns}
        return {"store": self.store.describe(), "case": self.name, "dumps": len(reports),
                "sessions": sum(r.loaded for r in reports), "subscribers": len(subs),
                "rejected": sum(r.rejected_total for r in reports), "rejects_file": str(self.store.rejects.combined)}

    # -- who talks to whom -----------------------------------------------------------------------
    def network(self, overrides: dict[str, Any] | None = None, tz: str | None = None) -> Network:
        """The case's current network: the latest ``link`` results and parameters, or (saying so in
        ``Network.note``) a fresh run when there is none or ``overrides`` differ from it."""
        from cdrnet.network import current_network

        return current_network(self.store, link_overrides(self.zone, **(overrides or {})), self.zone_or_case(tz))

    def run_link(self, params: LinkParams, subscribers: Iterable[str] | None = None, out: str | Path | None = None,
                 pseudonymized: bool = False, possible_apps: bool = False) -> LinkRun:
        """Score pairs where the sessions live, keep the links in the store, write edges.csv (``out``).

        ``possible_apps``: also count low-confidence labels ("XMPP (WhatsApp possible)") as
        messaging, on either store (the categories reach the Cypher as a parameter).
        """
        numbers = normalise_numbers(subscribers) if subscribers is not None else None
        notes: list[str] = []
        if possible_apps:
            params = dataclasses.replace(params, possible_apps=True)
        possible = sum(getattr(r, "app_possible", 0) for r in self.store.reports())
        if possible:
            notes.append(f"{possible:,} session(s) carry a low-confidence label "
                         "(e.g. 'XMPP (WhatsApp possible)': a port "
                         "alone, outside the app's ranges): "
                         + ("included (--possible-apps)" if possible_apps
                            else "left out of messaging co-usage; --possible-apps includes them"))
        result = self.store.link(params, numbers)
        target = Path(out) if out is not None else self.output("edges.csv")
        # edges.csv first: a folder that cannot take it fails here, with the file the analyst asked for.
        table = write_edges(result, target, pseudonymized)
        notes += [n for n in [self.store.write_links(result)] if n]
        notes = [n for n in notes if n]
        notes += self._write_network(result.edges, target.with_name("network.csv"), pseudonymized)
        return LinkRun(result, table, target, notes)

    def has_calls(self) -> bool:
        """Whether the case holds call records (voice/SMS CDRs or tower dumps)."""
        return any(r.kind == "calls" for r in self.store.reports())

    def contact_network(self, edges: pd.DataFrame) -> pd.DataFrame:
        """Inferred links of ``edges`` and the direct contacts among the case's numbers, as one table
        (a, b, kind = inferred | direct | both, score, q_value, calls, sms, seconds)."""
        from cdrnet.analysis.network import one_network

        called = self.store.called() if self.has_calls() else pd.DataFrame(columns=["a", "b"])
        return one_network(edges, called, self.case_numbers())

    def _write_network(self, edges: pd.DataFrame, path: Path, pseudonymized: bool) -> list[str]:
        """network.csv beside edges.csv when the case has call records; the lines saying what it holds."""
        from cdrnet.analysis.network import summary_line

        if not self.has_calls():
            return []
        net = self.contact_network(edges)
        shown = pseudonymize(net) if pseudonymized else net
        atomic_write_bytes(path, csv_text(shown).encode("utf-8"))
        out = [summary_line(net) + f"; written to {path}"]
        both = shown[shown["kind"] == "both"].head(10)
        out += [f"  both: {r.a} -- {r.b}  score {r.score:.1f}, {r.calls} call(s), {r.sms} SMS"
                for r in both.itertuples(index=False)]
        return out

    def link(self, subscribers: Iterable[str] | None = None, out: str | Path | None = None,
             pseudonymized: bool = False, **params: Any) -> pd.DataFrame:
        """The edges.csv table (also written to ``out``, default WORKSPACE/edges.csv); ``params`` as LinkParams."""
        return self.run_link(self.params(**params), subscribers, out, pseudonymized).table

    def pair(self, a: str, b: str, all_apps: bool = False, tz: str | None = None, **params: Any) -> PairReport:
        """The paper's correlation report for two subscribers, scored against the case's coverage.

        Times shown (and a textual since/until) are in ``tz``, default the case's zone.
        """
        from cdrnet.analysis.pair_report import pair_report

        tz = self.zone_or_case(tz)
        na, nb = normalise_numbers([a, b])
        frame = self._sessions_of([na, nb])
        p = self.params(tz=tz, **params)
        return pair_report(frame, na, nb, p, tz=tz, all_apps=all_apps, coverage=self.store.coverage(),
                           calls=self._cell_calls(p, [na, nb]))

    def evidence(self, a: str, b: str, out_dir: str | Path | None = None, pseudonymized: bool = False,
                 overrides: dict[str, Any] | None = None, tz: str | None = None,
                 **params: Any) -> tuple[Evidence, list[Path]]:
        """Everything behind the pair a--b (parameters, scores, every supporting session), as CSV and HTML.

        The pair is judged in the case's current network (:meth:`network`: the latest ``link``
        run, unless ``overrides``/``params`` change its options, which re-links and says so);
        the page is titled a link only when the pair is one there (see ``evidence_title``).
        Times are shown in ``tz`` (default the case's zone); the CSV keeps UTC too, in ``*_utc`` columns.
        """
        from cdrnet.analysis.evidence import build_evidence, evidence_title, with_network, write_evidence

        tz = self.zone_or_case(tz)
        net = self.network({**(overrides or {}), **params}, tz)
        p = net.params
        na, nb = normalise_numbers([a, b])
        frame = self._sessions_of([na, nb], p.since, p.until)
        files = {r.sha256: r.name for r in self.store.reports()}
        ev = with_network(build_evidence(frame, na, nb, p, files, coverage=self.store.coverage(), tz=tz,
                                         calls=self._cell_calls(p, [na, nb])), net)
        if pseudonymized:
            from cdrnet.pseudonym import pseudonymizer

            tok = pseudonymizer("msisdn")
            ev.events = pseudonymize(ev.events).drop(columns=["a_file", "b_file"])
            ev.a, ev.b = tok(ev.a), tok(ev.b)
        out = Path(out_dir) if out_dir is not None else self.output("evidence")
        return ev, write_evidence(ev, out, evidence_title(ev))

    # -- direct contacts (call records) ------------------------------------------------------------
    def case_numbers(self) -> set[str]:
        """Numbers some dump of the case was requested for; everyone else in the call records (other
        parties, numbers tower dumps saw) is outside the case."""
        return {m for r in self.store.reports() if not r.tower_cell for m in r.msisdns}

    def calls(self, numbers: Iterable[str] | None = None, since: pd.Timestamp | str | None = None,
              until: pd.Timestamp | str | None = None) -> pd.DataFrame:
        """Call events (CALL_SCHEMA columns) in [since, until) with one of ``numbers`` as a party;
        raises WorkspaceError when the case holds no call records."""
        self._require_calls()
        wanted = normalise_numbers(numbers) if numbers is not None else None
        since = parse_time(since) if isinstance(since, str) else since
        until = parse_time(until) if isinstance(until, str) else until
        return self.store.calls(since, until, wanted)

    def _require_calls(self) -> None:
        if not self.has_calls():
            raise WorkspaceError("the case holds no call records (voice/SMS CDRs or tower dumps)",
                                 "ingest the CDRs first: cdrnet ingest FILE")

    def called(self) -> pd.DataFrame:
        """Direct contacts, caller -> callee (a, b, calls, sms, seconds, first_utc, last_utc), over distinct calls."""
        self._require_calls()
        return self.store.called()

    def contacts(self, msisdn: str, tz: str | None = None, night: tuple[int, int] | None = None) -> Contacts:
        """Everyone ``msisdn`` called or texted or was called or texted by: per contact calls and SMS each
        way, seconds, night calls (in ``tz``, default the case's zone), first and last contact; most
        frequent first (``.top``, ``.bottom``)."""
        from cdrnet.analysis.contacts import NIGHT_HOURS, contacts_of

        tz = self.zone_or_case(tz)

        (m,) = normalise_numbers([msisdn])
        events = self.calls([m])
        if events.empty:
            raise UsageError(f"no calls or SMS of {m} in the call records", "run 'cdrnet dumps' to see what is loaded")
        return contacts_of(events, m, tz, night or NIGHT_HOURS)

    def write_contacts(self, msisdn: str | None = None, out_dir: str | Path | None = None,
                       tz: str | None = None, night: tuple[int, int] | None = None) -> list[Path]:
        """contacts.csv (``a,b,calls,sms,seconds,first,last``: every pair, or those of ``msisdn``) and, for
        one number, contacts_<msisdn>.csv (per contact, with night calls); default folder WORKSPACE/contacts.
        Times are written in ``tz`` (default the case's zone) with their offset."""
        from cdrnet.analysis.contacts import csv_table

        tz = self.zone_or_case(tz)

        out = Path(out_dir) if out_dir is not None else self.output("contacts")
        out.mkdir(parents=True, exist_ok=True)
        if msisdn is None:
            path = out / "contacts.csv"
            atomic_write_bytes(path, csv_text(csv_table(self.called(), tz)).encode())
            return [path]
        c = self.contacts(msisdn, tz, night)
        pair_path, per_path = out / f"contacts_{c.msisdn}_pairs.csv", out / f"contacts_{c.msisdn}.csv"
        atomic_write_bytes(pair_path, csv_text(csv_table(c.directed, tz)).encode())
        table = c.table.copy()
        for col in ("first_utc", "last_utc"):
            table[col] = table[col].dt.tz_convert(tz).map(lambda t: t.isoformat())
        table = table.rename(columns={"first_utc": "first", "last_utc": "last"})
        table["in_case"] = table["contact"].isin(self.case_numbers())
        atomic_write_bytes(per_path, csv_text(table).encode())
        return [per_path, pair_path]

    def common(self, numbers: Iterable[str]) -> pd.DataFrame:
        """Numbers in direct contact with every one of ``numbers`` (calls + SMS with each, total)."""
        from cdrnet.analysis.contacts import common_contacts

        wanted = list(dict.fromkeys(normalise_numbers(numbers)))
        if len(wanted) < 2:
            raise UsageError("common contacts need at least two different numbers")
        called = self.called()
        _require_in_calls(wanted, called)
        return common_contacts(called, wanted)

    def chains(self, a: str, b: str, max_hops: int = 4, limit: int = 20) -> list[list[str]]:
        """The shortest chains of direct contacts between ``a`` and ``b`` (at most ``max_hops`` calls long)."""
        from cdrnet.analysis.contacts import contact_chains

        na, nb = normalise_numbers([a, b])
        if na == nb:
            raise UsageError("a chain needs two different numbers")
        called = self.called()
        _require_in_calls([na, nb], called)
        return contact_chains(called, na, nb, max_hops, limit)

    def equipment(self, msisdn: str, tz: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(devices, SIMs) of a subscriber with the period each was seen (in ``tz``, default the case's
        zone), from IPDR sessions and call records together: a handset or SIM change shows as a new row."""
        from cdrnet.analysis.contacts import equipment_periods

        tz = self.zone_or_case(tz)

        (m,) = normalise_numbers([msisdn])
        try:
            sessions = self.store.sessions(None, None, [m])
        except WorkspaceError:
            sessions = None  # a case of call records only
        events = self.store.calls(numbers=[m]) if self.has_calls() else None
        return (equipment_periods(sessions, events, m, "imei", tz), equipment_periods(sessions, events, m, "imsi", tz))

    def tower_dumps(self, refs: Iterable[str] = ()) -> list[DumpReport]:
        """Tower dumps by file path, file name or SHA-256 prefix (all of the case's when none is named)."""
        towers = [r for r in self.store.reports() if r.tower_cell]
        refs = list(refs)
        if not refs:
            if not towers:
                raise WorkspaceError("the case holds no tower dumps", "ingest them first: cdrnet ingest FILE")
            return towers
        out = []
        for ref in refs:
            sha = _file_sha(ref)
            hits = [r for r in towers if r.sha256 == sha or (len(ref) >= 6 and r.sha256.startswith(ref.lower()))
                    or r.name == ref or Path(r.name).name == ref]
            if len(hits) != 1:
                names = ", ".join(sorted(Path(r.name).name for r in towers)) or "none loaded"
                raise UsageError(f"'{ref}' names {'no' if not hits else 'more than one'} tower dump of the case "
                                 f"(tower dumps: {names})", "name a tower dump by its file, file name or SHA-256 "
                                                            "prefix (cdrnet dumps lists them)")
            out.append(hits[0])
        return out

    def towers(self, places: Iterable[str] = (), k: int | None = None, tz: str | None = None) -> Presence:
        """Numbers seen in at least ``k`` of the tower dumps (default: all of them).

        A place is ``DUMP`` or ``DUMP@FROM/TO`` (times ISO, in ``tz`` -- default the case's zone --
        unless they carry an offset): only the rows of that window count there, for "who was at
        both places at the right times".
        """
        from cdrnet.analysis.towers import Place, presence

        tz = self.zone_or_case(tz)

        parsed = [_place_ref(p, tz) for p in places]
        reports = self.tower_dumps([ref for ref, _, _ in parsed])
        chosen = [Place(r.sha256, Path(r.name).name, r.tower_cell_raw or r.tower_cell, since, until)
                  for r, (_, since, until) in zip(reports, parsed or [("", None, None)] * len(reports), strict=True)]
        k = len(chosen) if k is None else k
        if not 1 <= k <= len(chosen):
            raise UsageError(f"-k {k} must be between 1 and the number of tower dumps ({len(chosen)})")
        events = self.store.calls(dumps=[p.sha256 for p in chosen])
        return presence(events, chosen, k, tz, self.case_numbers())

    # -- places ----------------------------------------------------------------------------------
    def import_cells(self, paths: Iterable[str | Path]) -> CellImport:
        """Import CGI charts and OpenCelliD/MLS exports (files, folders, archives); never an online lookup.

        Each list is kept once, keyed by its SHA-256; a file that is no cell-site list is refused
        with the reason, and the others go on. The case cells' positions are then recomputed (on
        Neo4j they are written onto the Cell nodes).
        """
        from cdrnet.errors import UnknownLayoutError
        from cdrnet.loader.cellsites import parse_cell_list
        from cdrnet.loader.sources import Refused, check_readable, iter_sources

        out = CellImport()
        self.store.create()
        for src in iter_sources([str(p) for p in paths]):
            bad = src if isinstance(src, Refused) else check_readable(src)
            if bad is not None:
                out.refused.append((bad.name, bad.reason))
                continue
            if self.store.has_cell_list(src.sha256()):
                out.unchanged.append((src.name, src.sha256()))
                continue
            try:
                cell_list = parse_cell_list(src)
            except UnknownLayoutError as exc:
                reason = str(exc)
                out.refused.append((src.name, reason[len(src.name) + 2:] if reason.startswith(src.name) else reason))
                continue
            self.store.import_cell_list(cell_list)
            out.loaded.append(cell_list.report)
        if (out.loaded or out.unchanged) and self.store.reports():
            out.note = self.store.write_places(self.cells())
        return out

    def cells(self, since: pd.Timestamp | str | None = None, until: pd.Timestamp | str | None = None) -> pd.DataFrame:
        """The case's cells with sessions, subscribers, first/last time and a position with its source
        (cdrnet.analysis.places.PLACE_COLUMNS), best source first."""
        from cdrnet.analysis.places import case_cells, place_cells

        seen = self.sightings(parse_time(since) if isinstance(since, str) else since,
                              parse_time(until) if isinstance(until, str) else until)
        return place_cells(case_cells(seen), self.store.cell_sites())

    def sightings(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None) -> pd.DataFrame:
        """Every time a subscriber of the case was seen at a cell (cdrnet.analysis.places.sightings)."""
        from cdrnet.analysis.places import SESSION_COLUMNS, sightings

        kinds = {r.kind for r in self.store.reports()}
        if not kinds:
            raise WorkspaceError(f"{self.store.describe()} holds no dumps", "run 'cdrnet ingest PATH' first")
        sessions = self.store.sessions(since, until, columns=SESSION_COLUMNS) if kinds - {"calls"} else None
        calls = self.store.calls(since, until) if "calls" in kinds else None
        return sightings(sessions, calls)

    def places(self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
               tz: str | None = None, pseudonymized: bool = False) -> Places:
        """What a place view draws: the case's cells with their positions, who was seen at the placed
        ones per day of ``tz`` (default the case's zone), and the coverage (empty when no cell is named)."""
        from cdrnet.analysis.places import case_cells, coverage, place_cells, presence
        from cdrnet.viz.placemap import Places

        zone = tz or self.zone
        frame = self.sightings(since, until)
        placed = place_cells(case_cells(frame), self.store.cell_sites())
        seen = presence(frame, placed.dropna(subset=["lat"])["cell_id"], zone)
        if pseudonymized:
            seen = pseudonymize(seen)
        return Places(placed, seen, coverage(placed))

    def write_place_map(self, path: str | Path | None = None, suspects: Iterable[str] = (),
                        since: pd.Timestamp | str | None = None, until: pd.Timestamp | str | None = None,
                        tz: str | None = None, title: str = "cdrnet places", pseudonymized: bool = False) -> Path:
        """The place view: cells placed by latitude/longitude with the subscribers seen there, per day
        in the case's zone, as one offline HTML page (default WORKSPACE/places.html). ``cdrnet map``
        draws the same view in its Places tab."""
        from cdrnet.viz.placemap import PlaceOptions, write_place_map

        zone = tz or self.zone
        read_options(tz=zone)
        numbers = normalise_numbers(suspects)
        lo, hi = parse_time(since, zone), parse_time(until, zone)
        if lo is not None and hi is not None and lo >= hi:
            raise UsageError(f"--since {since} is not before --until {until}",
                             "give the start of the period with --since and its end with --until")
        places = self.places(lo, hi, zone, pseudonymized)
        if places.placed.empty:
            raise WorkspaceError("no sessions or calls at a cell match the selection",
                                 "check --since/--until, or ingest first")
        if pseudonymized:
            from cdrnet.pseudonym import pseudonymizer

            tok = pseudonymizer("msisdn")
            numbers = [tok(n) for n in numbers]
        target = Path(path) if path is not None else self.output("places.html")
        return write_place_map(places.placed, places.seen, target,
                               PlaceOptions(title=title, tz=zone, suspects=numbers, coverage=places.coverage))

    # -- briefings -------------------------------------------------------------------------------
    def profile(self, msisdn: str, tz: str | None = None, rdns: dict[str, str] | None = None,
                label: str = "") -> Profile:
        """The persona of one subscriber (the paper's Table III and more), times in ``tz`` or the case's zone;
        ``label`` is shown beside the number."""
        from cdrnet.analysis.profile import build_profile

        tz = self.zone_or_case(tz)
        (m,) = normalise_numbers([msisdn])
        return build_profile(self._sessions_of([m]), m, tz, rdns=rdns, label=label)

    def resolve_destinations(self, msisdn: str, resolver: str | None = None,
                             timeout: float = 2.0) -> tuple[dict[str, str], dict[str, int]]:
        """Reverse-DNS names of a subscriber's top destinations (cached in the outputs folder)."""
        from cdrnet.analysis.rdns import resolve_all

        ips = self.profile(msisdn).destinations["dest_ip"].tolist()
        return resolve_all(ips, resolver, timeout, cache_path=self.output("rdns_cache.json"))

    def write_profile(self, msisdn: str, out_dir: str | Path | None = None, tz: str | None = None,
                      rdns: dict[str, str] | None = None, label: str = "") -> list[Path]:
        """profile_<msisdn>.txt, CSVs and chart (default folder WORKSPACE/profiles), times in ``tz`` or the case's."""
        from cdrnet.analysis.profile import write_profile

        tz = self.zone_or_case(tz)
        (m,) = normalise_numbers([msisdn])
        out = Path(out_dir) if out_dir is not None else self.output("profiles")
        return write_profile(self._sessions_of([m]), m, out, tz=tz, rdns=rdns, label=label)

    def trends(self, msisdn: str | Iterable[str] | None = None, app: str = "WhatsApp",
               out_dir: str | Path | None = None,
               tz: str | None = None, pseudonymized: bool = False,
               notify: Callable[[str], None] | None = None, possible_apps: bool = False) -> list[Path]:
        """Usage trends on one application: connection list, per day, 3-hour intervals, charts; the files written.

        Low-confidence labels ("XMPP (WhatsApp possible)") are left out unless ``possible_apps``;
        ``notify`` hears how many sessions that concerns.
        """
        from cdrnet.analysis.trends import app_sessions, write_trends
        from cdrnet.loader.signatures import possible_note, promote_possible

        tz = self.zone_or_case(tz)  # validates the zone before any work
        wanted = [msisdn] if isinstance(msisdn, str) else list(msisdn or [])
        numbers = normalise_numbers(wanted)
        show = None
        if pseudonymized:
            from cdrnet.pseudonym import pseudonymizer

            show = pseudonymizer("msisdn")
        frame = self.sessions()
        note = possible_note(frame, possible_apps)
        if note and notify is not None:
            notify(note)
        if possible_apps:
            frame = promote_possible(frame)
        if app_sessions(frame, app).empty:
            known = sorted(set(frame["app"].dropna()) - {""})
            raise UsageError(f"no sessions of an application matching '{app}'; applications in this case: "
                             f"{', '.join(known) if known else 'none identified'}", "")
        missing = sorted(set(numbers) - set(frame["msisdn"]))
        if missing:
            raise UsageError(f"no sessions for {', '.join(show(m) if show else m for m in missing)}",
                             "run 'cdrnet dumps' to see what is loaded")
        out = Path(out_dir) if out_dir is not None else self.output("trends")
        paths = write_trends(frame, numbers or None, out, app, tz, show=show, notify=notify)
        if not paths:
            raise UsageError(f"nothing to write: no {app} sessions for the selected number(s)", "")
        return paths

    def map_edges(self, overrides: dict[str, Any] | None = None,
                  edges_file: str | Path | None = None) -> tuple[pd.DataFrame, LinkParams, str]:
        """The edges a map draws, their parameters and a line saying where they come from: a given
        edges.csv, else the case's current network (:meth:`network`)."""
        edges, params, note, _ = self._map_network(overrides, edges_file)
        return edges, params, note

    def _map_network(self, overrides: dict[str, Any] | None, edges_file: str | Path | None
                     ) -> tuple[pd.DataFrame, LinkParams, str, bool]:
        """:meth:`map_edges` and whether the edges are every scored pair (False: links only, as
        Neo4j keeps them, so no edge means no link, not no co-usage)."""
        if edges_file is not None:
            edges = pd.read_csv(edges_file, dtype={"a": str, "b": str})
            params = link_params(tz=self.zone, **(overrides or {}))
            return edges, params, f"network: from {edges_file} (as written by 'cdrnet link')", True
        net = self.network(overrides)
        return net.edges.copy(), net.params, net.note, net.all_pairs

    def write_map(self, path: str | Path | None = None, suspects: Iterable[str] = (), hops: int = 1,
                  title: str = "cdrnet people network", edges_file: str | Path | None = None, fmt: str = "html",
                  pseudonymized: bool = False, labels: Labels | None = None,
                  notify: Callable[[str], None] | None = None, overrides: dict[str, Any] | None = None,
                  contacts: bool = True, tz: str | None = None, **params: Any) -> Path:
        """Interactive offline people-network map (or graphml/gexf/json for Gephi).

        The map draws the case's current network (:meth:`network`: the latest ``link`` run;
        link options that differ from it re-link, and ``notify`` hears which). Without
        ``path`` the file goes to the case's outputs (WORKSPACE/map.html or map.<fmt>).
        ``labels`` are shown beside the numbers. ``notify`` also hears when no pair has any
        co-usage evidence (the map then shows the subscribers without links: not an error).
        With ``contacts`` (and call records in the case) the direct contacts among the case's
        numbers are drawn too, dashed, and a pair that is both is marked. Times in tooltips, the
        header and the exports are in ``tz`` (default the case's zone).
        """
        from cdrnet.viz.netmap import MapOptions, export_graph, write_map

        if pseudonymized and labels is not None and labels.names:
            raise UsageError("--labels and --pseudonymize together would print names beside the tokens",
                             "use one of them")
        tz = self.zone_or_case(tz)
        if path is None:
            path = self.output(f"map.{fmt}")
        edges, p, note, all_pairs = self._map_network({**(overrides or {}), **params}, edges_file)
        if notify is not None:
            notify(note)
        frame = self.sessions(p.since, p.until)
        centre = normalise_numbers(suspects)
        if edges.empty and notify is not None:
            why = ("no pair has any co-usage evidence" if all_pairs  # Neo4j keeps links only
                   else f"no pair co-uses beyond chance at FDR {p.fdr:g}")
            notify(f"{why}: the map shows {frame['msisdn'].nunique()} subscriber(s) and no links")
        direct = None
        if contacts and self.has_calls():
            net = self.contact_network(edges)
            direct = net.loc[net["kind"] != "inferred", ["a", "b", "calls", "sms", "seconds"]]
        label = labels.show if labels is not None else str
        if pseudonymized:
            from cdrnet.pseudonym import pseudonymizer

            # Tokens replace numbers everywhere the page shows them: ids, labels, devices.
            edges, frame = pseudonymize(edges), pseudonymize(frame)
            direct = pseudonymize(direct) if direct is not None else None
            tok = pseudonymizer("msisdn")
            centre = [tok(s) for s in centre]
        places = self.places(p.since, p.until, tz, pseudonymized) if fmt == "html" else None
        opts = MapOptions(title=title, suspects=centre, hops=hops, min_score=p.min_score, label=label,
                          contacts=direct, tz=tz, params_text=f"{note}; times in {tz}", places=places)
        if fmt == "html":
            return write_map(edges, frame, path, opts)
        return export_graph(edges, frame, path, fmt, opts)

    # -- the case at a glance --------------------------------------------------------------------
    def labels(self, path: str | Path | None, country_code: str = "91") -> tuple[Labels, list[str]]:
        """The analyst's ``msisdn,label`` file and the lines to report about it (bad lines, numbers the
        case does not hold); no file gives no labels."""
        from cdrnet.labels import NO_LABELS, read_labels

        if path is None:
            return NO_LABELS, []
        labels = read_labels(path, country_code)
        known = {m for r in self.store.reports() for m in (*r.msisdns, *r.no_records_for)}
        return labels, labels.problems(known)

    def overview(self, labels: Labels | None = None, overrides: dict[str, Any] | None = None,
                 tz: str | None = None) -> CaseSummary:
        """The case at a glance (``cdrnet summary``): subscribers, operators and layouts, each dump's
        requested period, exports with no records, data quality, sessions and the current network."""
        from cdrnet.analysis.summary import build_summary
        from cdrnet.labels import NO_LABELS

        zone = tz or self.zone
        read_options(tz=zone)  # an unknown zone is one clear line, before any work
        reports = self.store.reports()
        if not reports:
            raise WorkspaceError(f"{self.store.describe()} holds no dumps", "run 'cdrnet ingest PATH' first")
        sessions = self.store.sessions(columns=["msisdn", "start_utc"])
        network = self.network(overrides, zone)
        contacts = self.contact_network(network.edges) if self.has_calls() else None
        return build_summary(self.name, self.store.describe(), zone, reports, sessions[["msisdn", "start_utc"]],
                             network, labels or NO_LABELS, contacts)

    def write_summary(self, summary: CaseSummary, path: str | Path | None = None) -> Path:
        """The printable summary page (default WORKSPACE/summary.html)."""
        from cdrnet.viz.summary_page import write_summary_page

        return write_summary_page(summary, Path(path) if path is not None else self.output("summary.html"))

    def write_report(self, path: str | Path, summary: CaseSummary | None = None, labels: Labels | None = None,
                     app: str = "WhatsApp", tz: str | None = None) -> Path:
        """The Excel workbook for investigators: the sections of :meth:`overview` (Summary, Dumps,
        Operators, No records, Subscribers, Links, IMEI-IMSI periods, Trends, Evidence) and, with call
        records, Direct contacts, Top 10 and Bottom 10 contacts and Night calls per subscriber
        (``summary``: an :meth:`overview` already computed, else one is made with ``labels`` and ``tz``)."""
        from cdrnet.viz.workbook import write_workbook

        summary = summary or self.overview(labels, tz=tz)
        frame = self.store.sessions()
        calls = self.store.calls() if self.has_calls() else None
        return write_workbook(summary, frame, self.store.coverage(), Path(path), app, calls)
