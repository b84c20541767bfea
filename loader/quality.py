"""The per-dump data-quality summary printed at ingest and stored beside the data."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdrnet.loader.dedupe import DuplicateFilter
from cdrnet.loader.hashing import arrow_backing, text_hashes
from cdrnet.loader.normalize import BLANKED_PREFIX, key_hash_of
from cdrnet.loader.strays import REASON as STRAY_REASON

#: Seconds of uncertainty implied by each kind of timestamp.
LEVEL_RESOLUTION_S = {"flow": 1, "session": 60, "allocation": 1800}


def shared_share(keys: np.ndarray) -> float:
    """Share of values that occur more than once (``pd.Series.duplicated(keep=False).mean()``).

    Sorted in place and compared with neighbours: a dump's start keys are 8 bytes a row, and a
    hash table or ``np.unique(return_inverse=True)`` over ten million of them held several
    copies at once (the peak memory of a big file's ingest).
    """
    if not len(keys):
        return float("nan")
    keys.sort()
    same = keys[1:] == keys[:-1]
    shared = np.zeros(len(keys), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    return float(shared.mean())


@dataclass
class DumpReport:
    """What one dump held and what happened to each of its lines."""

    name: str
    sha256: str
    size: int | None
    layout: str = ""
    has_destination: bool = True
    lines_read: int = 0
    loaded: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    nondata: int = 0
    duplicates_of_other_dumps: int = 0
    start_min: str = ""
    start_max: str = ""
    seconds_present: bool = True
    seconds_share: float = 0.0
    shared_start_share: float = 0.0
    time_level: str = "flow"
    resolution_s: int = 1
    end_rolled_over: int = 0
    imei_precision_lost: int = 0
    imsi_precision_lost: int = 0
    #: Optional values (ports besides the destination's, volumes) out of range or unreadable,
    #: blanked on rows that were kept: field -> count.
    fields_blanked: dict[str, int] = field(default_factory=dict)
    with_destination: int = 0
    app_identified: int = 0
    sheets: list[str] = field(default_factory=list)
    msisdns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ingested_at: str = ""
    #: When the dump was first ingested: a dump read again (``--replace``) keeps its place in the
    #: ingest order, which decides whose copy of a session two dumps deliver is kept (the first's).
    first_ingested_at: str = ""
    cdrnet_version: str = ""
    tz: str = ""
    signatures: str = ""
    #: The reading options the dump was ingested with (tz, country_code, date_order, signatures):
    #: ingesting it again with other ones says what differs and offers --replace.
    read_options: dict[str, str] = field(default_factory=dict)
    #: The requested period (ISO 8601 UTC, end inclusive to the second): what the preamble
    #: states ("preamble"), else the span of the rows' starts ("rows").
    period_start_utc: str = ""
    period_end_utc: str = ""
    period_source: str = ""
    #: Loaded rows whose start lies outside a stated period (kept, but warned about).
    rows_outside_period: int = 0
    #: Numeric dates' order: "dmy" | "mdy" | "" (none to decide: text months or ISO); and how it
    #: was decided: "data" | "preamble" | "option" | "".
    date_order: str = ""
    date_order_source: str = ""
    #: What a row's end and volumes describe, as the layout declares: end "flow" | "record" |
    #: "allocation" | "none"; volume "flow" | "record" | "none" (see docs/layouts.md).
    end_scope: str = "flow"
    volume_scope: str = "flow"
    #: What the dump's rows are: "sessions" (IPDR, data reports) or "calls" (voice/SMS CDRs,
    #: tower dumps; cdrnet/model.py CALL_SCHEMA).
    kind: str = "sessions"
    #: A tower dump's cell (canonical id and as the preamble wrote it); "" for other dumps. A tower
    #: dump was requested for a cell, not a subscriber: ``msisdns`` stays empty and ``tower_numbers``
    #: counts the numbers it saw.
    tower_cell: str = ""
    tower_cell_raw: str = ""
    tower_numbers: int = 0
    #: Subscribers an empty export ("No Records Found") was requested for: observed, no records.
    no_records_for: list[str] = field(default_factory=list)
    #: Volume counted once per record (bytes; None: the layout carries no volumes), and the
    #: plain per-row sum, which overstates where records' totals repeat on each flow row.
    volume_bytes: int | None = None
    volume_rows_sum: int | None = None
    #: Sessions with a destination by what identified them: a named application, a generic
    #: service (web, DNS, NTP, mail), a low-confidence "possible" label (port 5222 outside Meta's
    #: ranges), or nothing.
    app_named: int = 0
    app_generic: int = 0
    app_possible: int = 0

    def period_text(self, tz: str | None = None) -> str:
        """The period in ``tz`` (the case's zone), else the dump's own zone.

        E.g. ``2026-03-02 00:00 .. 2026-03-03 23:59:59 Asia/Kolkata (stated in preamble)``.
        """
        if not self.period_source:
            return "unknown"
        source = {"preamble": "stated in preamble", "rows": "span of the rows: no period stated"}.get(
            self.period_source, self.period_source)
        return (f"{self.local_text(self.period_start_utc, tz)} .. {self.local_text(self.period_end_utc, tz)} "
                f"{tz or self.tz or 'UTC'} ({source})")

    def local_text(self, iso: str, tz: str | None = None) -> str:
        """An ISO UTC time of this dump as people read it: in ``tz``, else the dump's zone (seconds when not zero)."""
        try:
            ts = pd.Timestamp(iso).tz_convert(tz or self.tz or "UTC")
        except (ValueError, TypeError):
            return iso
        return ts.strftime("%Y-%m-%d %H:%M" if ts.second == 0 else "%Y-%m-%d %H:%M:%S")

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def all_rejected(self) -> bool:
        """Rows were read but none loaded: recorded with its rejects, and read again when ingested again."""
        return self.loaded == 0 and self.rejected_total > 0

    @property
    def accounted(self) -> bool:
        return self.loaded + self.rejected_total + self.nondata == self.lines_read

    @property
    def app_identified_share(self) -> float:
        return self.app_identified / self.with_destination if self.with_destination else 0.0

    def to_dict(self) -> dict:
        # What ``asdict`` gives (its deep copy costs a millisecond a dump): every field in order,
        # containers copied; their items (numbers, text) need no copy.
        d = {name: _copied(getattr(self, name)) for name in _FIELD_NAMES}
        d["rejected_total"] = self.rejected_total
        d["app_identified_share"] = round(self.app_identified_share, 4)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DumpReport:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for f in fields(cls):
            # A store that keeps flat properties (Neo4j) holds dicts and lists as JSON text.
            if f.default_factory in (dict, list) and isinstance(known.get(f.name), str):
                known[f.name] = json.loads(known[f.name]) if known[f.name] else f.default_factory()
        known.setdefault("size", None)  # Neo4j stores no null properties: an unknown size comes back missing
        return cls(**known)

    def _tower_lines(self) -> list[str]:
        """A tower dump's cell and how many numbers it saw (nothing for other dumps)."""
        if not self.tower_cell:
            return []
        return [f"  tower dump of cell {self.tower_cell_raw} ({self.tower_cell}): "
                f"{self.tower_numbers} number(s) seen there"]

    def _reading_lines(self, zone: str) -> list[str]:
        """How the dump was read: nothing loaded, its period (in ``zone``), stray dates, date order."""
        out: list[str] = []
        if self.all_rejected:
            out.append(f"  NOTHING LOADED: every one of its {self.rejected_total:,} row(s) was rejected; fix the file "
                       f"or the options and ingest it again (a dump with nothing loaded is read again)")
        if self.period_source:
            out.append(f"  period {self.period_text(zone)}")
        far = self.rejected.get(STRAY_REASON, 0)
        if far:
            out.append(f"  {far:,} row(s) dated far from the dump's period (e.g. 1970, 2099, a year off): rejected as "
                       f"{STRAY_REASON}, kept out of every analysis, listed in the rejects file")
        if self.rows_outside_period:
            out.append(f"  WARNING: {self.rows_outside_period:,} loaded row(s) start outside the stated period "
                       f"(kept; check the dump is the one requested)")
        if self.date_order_source:
            how = {"data": "decided from the dates", "preamble": "decided by the stated period",
                   "option": "set by --date-order", "header": "stated by the header",
                   "layout": "the layout's own: no sign of a spreadsheet re-save"}.get(self.date_order_source,
                                                                                        self.date_order_source)
            out.append(f"  date order {self.date_order} ({how})")
        return out

    def summary_lines(self, tz: str | None = None) -> list[str]:
        """Human-readable summary, one fact per line; times in ``tz`` (the case's zone), else the dump's."""
        zone = tz or self.tz or "UTC"
        rej = ", ".join(f"{k}={v:,}" for k, v in sorted(self.rejected.items())) or "none"
        out = [
            f"{self.name}",
            f"  sha256 {self.sha256}  layout {self.layout or 'none'}",
            f"  lines {self.lines_read:,} = loaded {self.loaded:,} + rejected {self.rejected_total:,} "
            f"+ non-data {self.nondata:,}",
            f"  rejected by reason: {rej}",
        ]
        out.extend(self._reading_lines(zone))
        out.extend(self._tower_lines())
        for m in self.no_records_for:
            out.append(f"  no records for {m} in period {self.period_text(zone)}")
        if self.loaded:
            first, last = self.local_text(self.start_min, zone), self.local_text(self.start_max, zone)
            out.append(f"  time span {first} .. {last} {zone} "
                       f"(first and last {'call' if self.kind == 'calls' else 'session'} start)")
            sec = "yes" if self.seconds_present else "NO (minute resolution)"
            out.append(
                f"  timestamps: level {self.time_level} (~{self.resolution_s}s), seconds present {sec}, "
                f"{self.shared_start_share:.0%} of rows share their start with another row of the subscriber"
            )
            if self.kind == "calls":
                out.append("  voice/SMS call events (no destination IP/port): contacts, devices and cells")
            elif self.has_destination:
                n = self.with_destination or 1
                unknown = self.with_destination - self.app_named - self.app_generic - self.app_possible
                out.append(
                    f"  of {self.with_destination:,} sessions with a destination: named application "
                    f"{self.app_named:,} ({self.app_named / n:.0%}), generic service (web/DNS/NTP/mail) "
                    f"{self.app_generic:,} ({self.app_generic / n:.0%}), possible only (low confidence) "
                    f"{self.app_possible:,} ({self.app_possible / n:.0%}), unknown {unknown:,} ({unknown / n:.0%})"
                )
            else:
                out.append("  no destination IP/port in this layout: not usable for application identification")
        if self.volume_bytes is not None:
            vol = f"  volume {self.volume_bytes:,} B"
            if self.volume_scope == "record":
                vol += (f", counted once per record (the per-row sum {self.volume_rows_sum or 0:,} B repeats each "
                        f"record's totals on its flow rows)")
            out.append(vol)
        if self.imei_precision_lost or self.imsi_precision_lost:
            out.append(
                f"  identifiers lost to Excel (blanked): IMEI {self.imei_precision_lost:,}, "
                f"IMSI {self.imsi_precision_lost:,}"
            )
        if self.fields_blanked:
            out.append("  values out of range or unreadable (blanked, row kept): "
                       + ", ".join(f"{k} {v}" for k, v in self.fields_blanked.items()))
        if self.end_rolled_over:
            out.append(f"  end times rolled over midnight: {self.end_rolled_over:,}")
        if self.duplicates_of_other_dumps:
            out.append(f"  sessions already present in other dumps (overlap): {self.duplicates_of_other_dumps} "
                       "(one session each; where the copies differ, the first-ingested dump's is kept)")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


_FIELD_NAMES = [f.name for f in fields(DumpReport)]


def _copied(value: object) -> object:
    """A report field's value as ``dataclasses.asdict`` copies it (dicts and lists of plain values)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def session_reports(reports: list[DumpReport]) -> list[DumpReport]:
    """The reports of data-session dumps (IPDR, data reports): what co-usage and coverage read.

    Call records and tower dumps observe calls, not data sessions: a subscriber whose CDR
    covers March was not observed using apps in March.
    """
    return [r for r in reports if r.kind == "sessions"]


def call_reports(reports: list[DumpReport]) -> list[DumpReport]:
    """The reports of voice/SMS CDRs and tower dumps."""
    return [r for r in reports if r.kind == "calls"]


def resolution_by_subscriber(reports: list[DumpReport]) -> dict[str, int]:
    """Coarsest timestamp resolution (seconds) among each subscriber's data-session dumps."""
    out: dict[str, int] = {}
    for rep in session_reports(reports):
        for m in rep.msisdns:
            out[m] = max(out.get(m, 0), rep.resolution_s)
    return out


#: Services every phone talks to whatever its owner does: they identify no application.
GENERIC_CATEGORIES = ("web", "infrastructure", "mail", "push")
#: Labels a port-only rule gives without naming one application for certain
#: (e.g. "XMPP (WhatsApp possible)"); kept out of app trends and messaging co-usage by default.
POSSIBLE_SUFFIX = "_possible"


def app_kind(sessions: pd.DataFrame) -> pd.Series:
    """Per session: "named" application, "generic" service, "possible" (low-confidence guess) or "".

    A low-confidence rule that is not a generic service (port 5222 alone, UDP 3478 alone)
    names several candidate applications, not one, so it is "possible", never "named".
    """
    app = sessions["app"].fillna("")
    cat = sessions["app_category"].fillna("")
    conf = sessions["app_confidence"].fillna("").str.lower()
    kind = pd.Series("named", index=sessions.index, dtype="string")
    kind[cat.str.endswith(POSSIBLE_SUFFIX) | (conf == "low")] = "possible"
    kind[cat.isin(GENERIC_CATEGORIES)] = "generic"
    kind[app == ""] = ""
    return kind


class Columns:
    """A frame's columns by name, each the array behind it, fetched once.

    Why: the summary asks about a dozen questions of a block's columns, and ``frame[name]`` builds a
    new Series each time (~30 µs of pandas bookkeeping); on the many-dump shape, a few thousand rows
    a dump, that was a third of the summary's cost. The arrays are what those Series held.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._arrays: dict[str, object] = {}
        self._unique = frame.columns.is_unique

    def __contains__(self, name: str) -> bool:
        return name in self.frame.columns

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, name: str) -> pd.api.extensions.ExtensionArray | np.ndarray:
        arr = self._arrays.get(name)
        if arr is None:
            getter = getattr(self.frame, "_get_column_array", None)
            if self._unique and getter is not None:
                arr = getter(self.frame.columns.get_loc(name))
            else:
                arr = self.frame[name].array
            self._arrays[name] = arr
        return arr


def _as_series(column: pd.Series | pd.api.extensions.ExtensionArray | np.ndarray) -> pd.Series:
    """A column as a Series, for the general paths (columns not of the normaliser's types)."""
    return column if isinstance(column, pd.Series) else pd.Series(column, copy=False)


def _utc_datetime64(start_utc: pd.Series | pd.api.extensions.ExtensionArray) -> np.ndarray:
    """A column of UTC times as naive numpy datetime64 in its own unit (NaT stays NaT): one conversion,
    then numpy compares and counts without a pandas call per fact."""
    if isinstance(start_utc, pd.arrays.DatetimeArray):
        return start_utc._ndarray  # noqa: SLF001 - the UTC values to_numpy gives (a view, not copied)
    start_utc = _as_series(start_utc)
    dtype = start_utc.dtype
    unit = dtype.unit if isinstance(dtype, pd.DatetimeTZDtype) else np.datetime_data(dtype)[0]
    return start_utc.to_numpy(dtype=f"datetime64[{unit}]")


def _bounds_in_unit(start_iso: str, end_iso: str, dtype: np.dtype) -> tuple[np.datetime64, np.datetime64]:
    """A stated period as datetime64 bounds in the times' unit, compared as the Timestamps were: a
    time is before the start when before its ceiling in that unit, after the end when after its floor."""
    unit = np.datetime_data(dtype)[0]
    lo = pd.Timestamp(start_iso).tz_convert(None).ceil(unit).as_unit(unit).to_datetime64()
    hi = pd.Timestamp(end_iso).tz_convert(None).floor(unit).as_unit(unit).to_datetime64()
    return lo, hi


def _distinct_flags(column: pd.Series | pd.api.extensions.ExtensionArray,
                    *tests: Callable[[str], bool]) -> list[np.ndarray]:
    """Each of ``tests`` on each row's text (a missing value reads as ""), asked once per distinct
    value: a dump has a handful of categories and confidences, not one per row."""
    arr = _arrow_text(column)
    if arr is not None:  # Arrow's dictionary encoding: same distinct values in the same order, no pandas call
        encoded = pc.dictionary_encode(arr)
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary.to_pylist()
    else:
        codes, uniques = pd.factorize(column)
    texts = [str(u) for u in uniques] + [""]  # code -1 (missing) picks the last entry
    return [np.array([bool(test(t)) for t in texts], dtype=bool)[codes] for test in tests]


def _arrow_text(column: pd.Series | pd.api.extensions.ExtensionArray) -> pa.Array | None:
    """The one Arrow string array behind a column of the normaliser (None for any other column).

    Why: a dump's quality summary asks a dozen questions of a few thousand rows, so pandas'
    per-call overhead (factorize, notna, getitem) was most of its cost; Arrow answers them directly.
    """
    data = arrow_backing(column)
    if data is None:
        return None
    return data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)


def _msisdn_codes(column: pd.Series | pd.api.extensions.ExtensionArray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Per row the code of its subscriber, the distinct subscribers in order of first appearance,
    and ``pd.util.hash_array`` of each row's subscriber, as :meth:`Accumulator.add` had them from
    ``pd.factorize`` and pandas' hash (the kernel's SipHash equals pandas', loader/hashing.py)."""
    arr = _arrow_text(column)
    if arr is not None and not arr.null_count:
        encoded = pc.dictionary_encode(arr)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary
        return codes, uniques.to_pylist(), text_hashes(uniques)[0][codes]
    codes, uniques = pd.factorize(column)
    # code -1 (a missing subscriber) picks the last distinct value's hash, as it always did
    return codes, uniques.tolist(), pd.util.hash_array(np.asarray(uniques, dtype=object))[codes]


def _nonempty(column: pd.Series | pd.api.extensions.ExtensionArray) -> np.ndarray:
    """Rows whose text is neither missing nor empty (Arrow's string lengths when the column is Arrow's)."""
    arr = column.array if isinstance(column, pd.Series) else column
    if isinstance(arr, pd.arrays.ArrowStringArray):
        lengths = pc.binary_length(pa.array(arr))
        return pc.fill_null(pc.greater(lengths, 0), False).to_numpy(zero_copy_only=False)
    column = _as_series(column)
    return (column.fillna("") != "").to_numpy(dtype=bool)


def app_kind_counts(sessions: pd.DataFrame | Columns, dest: np.ndarray, has_app: np.ndarray | None = None
                    ) -> tuple[int, int, int]:
    """How many of the rows in ``dest`` :func:`app_kind` calls "named", "generic" and "possible",
    counted over each column's distinct values (the per-row pandas string operations of
    :func:`app_kind` were a quarter of a small dump's quality summary). ``has_app``: the rows
    with an application, when the caller has them already."""
    if has_app is None:
        has_app = _nonempty(sessions["app"])
    generic, possible = _distinct_flags(sessions["app_category"], lambda c: c in GENERIC_CATEGORIES,
                                        lambda c: c.endswith(POSSIBLE_SUFFIX))
    possible |= _distinct_flags(sessions["app_confidence"], lambda c: c.lower() == "low")[0]
    counted = dest & has_app
    return (int((counted & ~generic & ~possible).sum()), int((counted & generic).sum()),
            int((counted & ~generic & possible).sum()))


class Accumulator:
    """Collects block results into the final report without keeping whole blocks."""

    def __init__(self, report: DumpReport) -> None:
        self.report = report
        self.rejects: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.msisdn_set: set[str] = set()
        # One 64-bit hash of (subscriber, start) per session: 8 bytes a row for the
        # shared-start share, the only per-row state the report needs.
        self.start_keys: list[np.ndarray] = []
        self.with_seconds = 0
        self.tmin: pd.Timestamp | None = None
        self.tmax: pd.Timestamp | None = None
        self.period: tuple[np.datetime64, np.datetime64] | None = None
        self.volume = 0
        self.rows_sum = 0
        self.records_seen = DuplicateFilter()  # hashes of record keys already counted

    def add(self, sessions: pd.DataFrame, reasons: list[str] | pd.Series, nondata: int, stats: dict[str, int]) -> None:
        """One block's kept rows, the reasons its other rows were rejected, its non-data lines and counts.

        Every fact is a numpy count over arrays taken from the block once: a per-subscriber dump
        is one block of a few thousand rows, so the number of pandas calls, not the rows, was the cost.
        """
        r = self.report
        r.loaded += len(sessions)
        r.nondata += nondata
        self._add_rejects(list(reasons))
        self.stats.update(stats)
        if not len(sessions):
            return
        cols = Columns(sessions)
        st = cols["start_utc"]
        times = _utc_datetime64(st)
        valid = ~np.isnat(times)
        if valid.all():
            lo, hi = st[int(np.argmin(times))], st[int(np.argmax(times))]
        else:  # pandas skips a missing time (numpy's min would return it)
            lo, hi = _as_series(st).min(), _as_series(st).max()
        self.tmin = lo if self.tmin is None else min(self.tmin, lo)
        self.tmax = hi if self.tmax is None else max(self.tmax, hi)
        # A missing time counts as "with seconds" (its second is NaN, which is not 0), as it always did.
        self.with_seconds += int((~valid | (times.astype("datetime64[s]").astype(np.int64) % 60 != 0)).sum())
        _, uniques, m = _msisdn_codes(cols["msisdn"])
        self.msisdn_set.update(uniques)
        t = times.view(np.int64).view(np.uint64)
        self.start_keys.append(m * np.uint64(0x9E3779B97F4A7C15) ^ t)
        if r.period_source == "preamble":
            if self.period is None:
                self.period = _bounds_in_unit(r.period_start_utc, r.period_end_utc, times.dtype)
            r.rows_outside_period += int(((times < self.period[0]) | (times > self.period[1])).sum())
        if "dest_port" in cols:
            self._add_session_facts(cols)

    def _add_rejects(self, reasons: list[str]) -> None:
        """Count reject reasons in the order a block's ``value_counts`` gives them (the report keeps it)."""
        if not reasons:
            return
        if len(set(reasons)) == 1:
            self.rejects[reasons[0]] += len(reasons)
        else:
            self.rejects.update(pd.Series(reasons, dtype="string").value_counts().to_dict())

    def _add_session_facts(self, sessions: Columns) -> None:
        """Destinations, applications and volumes: what only data sessions have."""
        r = self.report
        port = sessions["dest_port"]
        dest = ~np.asarray(pd.isna(port), dtype=bool) | _nonempty(sessions["dest_ip"])
        r.with_destination += int(dest.sum())
        has_app = _nonempty(sessions["app"])
        r.app_identified += int((dest & has_app).sum())
        named, generic, possible = app_kind_counts(sessions, dest, has_app)
        r.app_named += named
        r.app_generic += generic
        r.app_possible += possible
        self._add_volumes(sessions)

    def _add_volumes(self, sessions: Columns) -> None:
        """Volumes counted once per record: a record's first row in the dump carries its totals."""
        if not (isinstance(sessions["uplink"].dtype, pd.Int64Dtype)
                and isinstance(sessions["downlink"].dtype, pd.Int64Dtype)):
            self._add_volumes_general(sessions.frame)
            return
        # The normaliser's integer columns: numpy on their values and masks, as pandas' nullable sums do.
        up, down = sessions["uplink"], sessions["downlink"]
        has = ~(up.isna() & down.isna())  # a missing side counts 0; a row with neither has no volume
        if not has.any():
            return
        vol = up.to_numpy(dtype=np.int64, na_value=0) + down.to_numpy(dtype=np.int64, na_value=0)
        self.rows_sum += int(vol[has].sum())
        key = _as_series(sessions["record_key"]).fillna("")
        keyed = _nonempty(key)
        h = key_hash_of(key[keyed]) if keyed.any() else np.zeros(0, dtype=np.uint64)
        first = self.records_seen.first_seen(h)  # each record's first row in the dump
        as_float = np.where(has, vol.astype(np.float64), np.nan)
        counted = float(vol[~keyed & has].sum()) + float(np.nansum(as_float[keyed][first]))
        self.volume += int(counted)

    def _add_volumes_general(self, sessions: pd.DataFrame) -> None:
        """:meth:`_add_volumes` for volume columns of any type (text, floats)."""
        up = pd.to_numeric(sessions["uplink"], errors="coerce")
        down = pd.to_numeric(sessions["downlink"], errors="coerce")
        vol = up.add(down, fill_value=0)
        if not vol.notna().any():
            return
        self.rows_sum += int(vol.sum())
        key = sessions["record_key"].fillna("")
        keyed = (key != "").to_numpy()
        h = key_hash_of(key[keyed]) if keyed.any() else np.zeros(0, dtype=np.uint64)
        first = self.records_seen.first_seen(h)
        counted = float(vol[~keyed].sum()) + float(np.nansum(vol[keyed].to_numpy(dtype="float64")[first]))
        self.volume += int(counted)

    def finish(self, base_level: str, fallback_level: str | None, event_time: bool = False) -> DumpReport:
        """Final counts, the period (the rows' span when none is stated) and the timestamp level.

        ``event_time``: the layout maps a per-flow event time (Jio TIME1); when most
        rows carry it, bursts of flows sharing a second do not demote the level.
        """
        r = self.report
        r.rejected = dict(self.rejects)
        r.msisdns = sorted(self.msisdn_set | set(r.no_records_for))
        if r.tower_cell:
            # Requested for a cell: the numbers it saw are not the dump's subscribers.
            r.tower_numbers, r.msisdns = len(r.msisdns), []
        if self.rows_sum or self.volume:
            r.volume_bytes, r.volume_rows_sum = self.volume, self.rows_sum
        r.end_rolled_over = self.stats["end_rolled_over"]
        r.imei_precision_lost = self.stats["imei_precision_lost"]
        r.imsi_precision_lost = self.stats["imsi_precision_lost"]
        r.fields_blanked = {k[len(BLANKED_PREFIX):]: v for k, v in sorted(self.stats.items())
                            if k.startswith(BLANKED_PREFIX) and v}
        if r.loaded:
            r.start_min = self.tmin.isoformat() if self.tmin is not None else ""
            r.start_max = self.tmax.isoformat() if self.tmax is not None else ""
            r.seconds_share = round(self.with_seconds / r.loaded, 4)
            r.seconds_present = r.seconds_share > 0.02 or r.loaded < 20 and self.with_seconds > 0
            r.shared_start_share = round(shared_share(np.concatenate(self.start_keys)), 4)
        if not r.period_source and r.loaded:
            r.period_start_utc, r.period_end_utc, r.period_source = r.start_min, r.start_max, "rows"
        level = base_level
        event_used = event_time and r.loaded > 0 and self.stats["event_time_rows"] >= r.loaded / 2
        if fallback_level and self.stats["event_time_rows"] < r.loaded / 2:
            level = fallback_level
            r.notes.append("event time (TIME1) missing: times are 30-minute allocation windows")
            if r.end_scope == "flow":
                r.end_scope = "allocation"
        if level == "flow" and r.shared_start_share > 0.5 and not event_used:
            level = "session"
            r.notes.append("most rows share their start time: times are per PDP session, not per flow")
        resolution = LEVEL_RESOLUTION_S[level]
        if not r.seconds_present and r.loaded:
            resolution = max(resolution, 60)
        r.time_level, r.resolution_s = level, resolution
        return r
