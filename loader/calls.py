"""Turn one block of a voice/SMS CDR or tower dump into canonical call events.

The counterpart of normalize.py for call records: the same column reading,
non-data detection, date order and row accounting, but rows become call events
(cdrnet/model.py CALL_SCHEMA): the row's own subscriber, the other party, the
direction and type from the operator's call type code, the call's start,
duration and first/last cell.

Every step works on whole columns; call type codes, numbers and cells are
resolved per distinct value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cdrnet.loader.cells import normalise_cells, stated_positions
from cdrnet.loader.dateorder import DateDecision, formats_for_order
from cdrnet.loader.detect import Detection
from cdrnet.loader.identifiers import imei14, normalise_equipment, normalise_msisdn, to_int
from cdrnet.loader.layouts import call_code
from cdrnet.loader.normalize import (
    BlockResult,
    Options,
    _hex_keys,
    _order_rejects,
    column_reader,
    nondata_rows,
    raw_row_hash,
    session_hashes,
)
from cdrnet.loader.timeparse import combine, parse_local, to_utc
from cdrnet.model import CALL_COLUMNS, CALL_KEY_COLUMNS

#: Call type codes every call layout understands (compared without case, spaces, - and _):
#: Airtel IN/OUT/SMT/SMO, Jio a_in/a_out/A2P_SMSIN/P2P_SMSIN/P2P_SMSOUT, the DoT wording
#: IN/OUT/SMS_IN/SMS_OUT, and the 3GPP names switches print (MOC/MTC, SMS-MO/SMS-MT). A layout
#: (or a mapping file's [call_types]) adds its own.
CALL_TYPES: dict[str, str] = {
    **dict.fromkeys(["OUT", "AOUT", "MOC", "MO", "OUTGOING", "CALLOUT", "VOICEOUT", "VOCOUT"], "out voice"),
    **dict.fromkeys(["IN", "AIN", "MTC", "MT", "INCOMING", "CALLIN", "VOICEIN", "VOCIN"], "in voice"),
    **dict.fromkeys(["SMO", "SMSOUT", "SMSMO", "P2PSMSOUT", "A2PSMSOUT", "OUTSMS", "SMSO", "MOSMS"], "out sms"),
    **dict.fromkeys(["SMT", "SMSIN", "SMSMT", "P2PSMSIN", "A2PSMSIN", "INSMS", "SMST", "MTSMS"], "in sms"),
}
MAX_DURATION_S = 86_400


def call_meanings(codes: pd.Series, extra: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """(direction, type) per row from the operator's call type codes ("" where unknown)."""
    table = {**CALL_TYPES, **extra}
    uniq = pd.Series(codes.unique())
    meaning = uniq.map(lambda c: table.get(call_code(str(c)), ""))
    lookup = dict(zip(uniq.tolist(), meaning.tolist(), strict=True))
    m = codes.map(lookup).astype("string").fillna("")
    parts = m.str.split(" ", n=1, expand=True)
    if parts.shape[1] < 2:
        empty = pd.Series("", index=codes.index, dtype="string")
        return empty, empty
    return parts[0].fillna("").astype("string"), parts[1].fillna("").astype("string")


def other_party(raw: pd.Series, country_code: str) -> pd.Series:
    """The B party in the stored form when it is a phone number, else its text as exported
    (sender ids such as ``AX-HDFCBK``, short codes): never rejected, it is a fact of the call."""
    norm, reason = normalise_msisdn(raw, country_code)
    return norm.where(reason.isna(), raw).astype("string")


def normalise_calls_block(raw: pd.DataFrame, lines: np.ndarray, det: Detection, opts: Options, dump_sha: str,
                          source_part: str) -> BlockResult:
    """Normalise one block of call records. ``lines`` holds each row's physical line number."""
    layout = det.layout
    assert layout is not None
    col = column_reader(raw, det)
    nondata = nondata_rows(raw, det, col)
    reason = pd.Series(pd.NA, index=raw.index, dtype="string")

    direction, kind = call_meanings(col("call_type"), layout.call_types)
    first_col, second_col = col("msisdn"), col("b_party")
    if layout.parties == "calling_called":
        incoming = (direction == "in").to_numpy()
        target_raw = first_col.where(~incoming, second_col)
        other_raw = second_col.where(~incoming, first_col)
    else:
        target_raw, other_raw = first_col, second_col
    msisdn, r_msisdn = normalise_msisdn(target_raw, opts.country_code)
    reason = reason.fillna(r_msisdn)
    reason[(direction == "") & reason.isna()] = "unknown_call_type"

    tz = layout.timezone or opts.tz
    decision = det.decision or DateDecision()
    fmts = formats_for_order(layout.datetime_formats, decision.order)
    start_text = col("start") if "start" in det.index else combine(col("start_date"), col("start_time"))
    local_start = parse_local(start_text, fmts)
    wrong_order, why = _order_rejects([start_text], [local_start], layout.datetime_formats, decision.order)
    reason[wrong_order & reason.isna()] = why
    reason[local_start.isna() & reason.isna()] = "invalid_time"

    duration, bad_duration = to_int(col("duration"), 0, MAX_DURATION_S)
    reason[bad_duration & reason.isna()] = "invalid_duration"
    imei, lost_imei = normalise_equipment(col("imei"))
    imsi, lost_imsi = normalise_equipment(col("imsi"))
    reason = reason.where(~nondata, pd.NA)
    keep = (reason.isna() & ~nondata).to_numpy()

    start_utc = to_utc(local_start, tz)
    end_utc = start_utc + pd.to_timedelta(duration.astype("Float64").fillna(0), unit="s")
    other = other_party(other_raw, opts.country_code)
    outgoing = (direction == "out").to_numpy()
    # The operator's own positions (loader/cells.py, as for IPDR rows): lat/lon columns (the first
    # cell's only), a lat/lon column (Airtel), the location text (BSNL ``…; Lat-…; Long-…``).
    first_lat, first_lon = stated_positions(col("lat"), col("lon"), col("lat_lon"), col("cell_name"))
    blank = pd.Series("", index=raw.index, dtype="string")
    last_lat, last_lon = stated_positions(blank, blank, col("last_lat_lon"), col("last_cell_name"))
    hex_eci = layout.cell_format == "hex_eci"
    frame = pd.DataFrame(
        {
            "msisdn": msisdn, "b_party": other,
            "caller": msisdn.where(outgoing, other), "callee": other.where(outgoing, msisdn),
            "direction": direction, "type": kind, "call_type": col("call_type"),
            "start_utc": start_utc, "end_utc": end_utc, "duration_s": duration.astype("Int64"),
            "start_local": start_text, "tz": tz,
            "first_cell": normalise_cells(col("cell_id"), hex_eci), "first_cell_raw": col("cell_id"),
            "first_cell_name": col("cell_name"), "first_lat": first_lat, "first_lon": first_lon,
            "last_cell": normalise_cells(col("last_cell_id"), hex_eci), "last_cell_raw": col("last_cell_id"),
            "last_cell_name": col("last_cell_name"), "last_lat": last_lat, "last_lon": last_lon,
            "imei": imei, "imei14": imei14(imei), "imsi": imsi, "roaming": col("roaming"),
        },
        index=raw.index,
    )
    frame["dump_sha256"] = dump_sha
    frame["source_part"] = source_part
    frame["source_line"] = lines.astype(np.int64)
    frame["layout"] = layout.name
    events = frame[keep]
    h1, h2 = session_hashes(events, CALL_KEY_COLUMNS)
    events = events.assign(event_key=_hex_keys(h1, h2).set_axis(events.index))
    rej_mask = (~keep & ~nondata.to_numpy())
    rejects = pd.DataFrame({"line": lines[rej_mask], "reason": reason[rej_mask].astype(str).to_numpy()})
    stats = {"imei_precision_lost": int((lost_imei & keep).sum()), "imsi_precision_lost": int((lost_imsi & keep).sum()),
             "event_time_rows": 0, "end_rolled_over": 0}
    return BlockResult(events[CALL_COLUMNS], rejects, int(nondata.sum()), stats, h1, raw_row_hash(raw, keep, det))
