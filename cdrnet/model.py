"""The canonical session record every layout is normalised into.

One declaration of the columns (name and Arrow type) is shared by the loader,
the workspace and the graph store, so a column added here reaches all of them.
"""

from __future__ import annotations

import pyarrow as pa

#: Schema metadata of every stored file holding cell keys (sessions, calls, site lists): the cell
#: key scheme its keys follow. Scheme 2: an LTE cell's key has no TAC, and Jio's 3-digit MNC
#: field under MCC 404 is the 2-digit network (loader/cells.py). Files written before carry no
#: such entry, and their keys are brought to the scheme when read (``upgrade_stored_cells``).
CELL_KEY_SCHEME = {b"cdrnet.cell_keys": b"2"}

#: Canonical session columns, in storage order.
SESSION_SCHEMA = pa.schema(
    [
        ("session_key", pa.string()),
        ("msisdn", pa.string()),
        ("imsi", pa.string()),
        ("imei", pa.string()),
        ("imei14", pa.string()),
        ("start_utc", pa.timestamp("s", tz="UTC")),
        ("end_utc", pa.timestamp("s", tz="UTC")),
        ("start_local", pa.string()),
        ("tz", pa.string()),
        ("alloc_start_utc", pa.timestamp("s", tz="UTC")),
        ("alloc_end_utc", pa.timestamp("s", tz="UTC")),
        ("src_ip", pa.string()),
        ("src_port", pa.int32()),
        ("public_ip", pa.string()),
        ("public_port", pa.int32()),
        ("dest_ip", pa.string()),
        ("dest_port", pa.int32()),
        ("proto", pa.string()),
        ("cell_id", pa.string()),
        ("cell_raw", pa.string()),
        ("cell_name", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("uplink", pa.int64()),
        ("downlink", pa.int64()),
        ("rat", pa.string()),
        ("apn", pa.string()),
        ("record_key", pa.string()),
        ("app", pa.string()),
        ("app_vendor", pa.string()),
        ("app_category", pa.string()),
        ("app_confidence", pa.string()),
        ("dump_sha256", pa.string()),
        ("source_part", pa.string()),
        ("source_line", pa.int64()),
        ("layout", pa.string()),
    ],
    metadata=CELL_KEY_SCHEME,
)

SESSION_COLUMNS: list[str] = SESSION_SCHEMA.names

#: Columns that identify a session independently of which dump delivered it, so
#: an operator's resend of the same rows yields the same keys. The cell and the
#: allocation end are left out: operators re-send a flow with a corrected cell or
#: a re-computed allocation end, and that is the same session, not a second one.
SESSION_KEY_COLUMNS: list[str] = [
    "msisdn",
    "start_utc",
    "end_utc",
    "alloc_start_utc",
    "src_ip",
    "src_port",
    "public_ip",
    "public_port",
    "dest_ip",
    "dest_port",
    "uplink",
    "downlink",
]

#: Reject reasons written to rejects.csv; kept in one place so docs and tests agree.
REJECT_REASONS: dict[str, str] = {
    "wrong_field_count": "the row has more or fewer fields than the header",
    "nul_byte": "the row contains NUL bytes (binary or corrupted data)",
    "missing_msisdn": "the subscriber number is empty",
    "invalid_msisdn": "the subscriber number is not a phone number",
    "msisdn_precision_lost": "the subscriber number was turned into scientific notation by Excel (digits lost)",
    "invalid_time": "the start time is missing or not a real date/time",
    "date_order_conflict": "a date reads only in the other day/month order than the one decided for this dump "
                           "(e.g. 07/14/2023 in a day-first dump); see --date-order",
    "date_order_undecided": "a numeric date (03/04/2023) in a dump whose first block held none to decide "
                            "day-first from month-first; re-run with --date-order dmy|mdy",
    "end_before_start": "the end time is before the start time and not a midnight roll-over",
    "invalid_port": "the destination port is not an integer in 0-65535",
    "invalid_ip": "the destination IP address is not a valid IPv4/IPv6 address",
    "duplicate_row": "an identical row appears earlier in this dump",
    "resent_row": "the same session appears earlier in this dump with another allocation end, cell or "
                  "other detail (an operator re-send); the first one is kept",
}

#: Canonical call events (voice calls and SMS from voice/SMS CDRs and tower dumps), one per
#: input row, in storage order. ``msisdn`` is the row's own subscriber (the CDR's target, or the
#: number a tower dump saw at its cell); ``b_party`` the other party (a phone number in the stored
#: form, else the text as exported: sender ids such as ``AX-HDFCBK``, short codes);
#: ``direction`` is ``out`` (msisdn called or texted b_party) or ``in``; ``type`` is ``voice``
#: or ``sms``; ``call_type`` the operator's code as exported. ``caller``/``callee`` follow from
#: the direction. Cells are canonical ids (loader/cells.py) with the raw text, the name and the
#: position where the layout states one. See docs/calls-and-towers.md.
CALL_SCHEMA = pa.schema(
    [
        ("event_key", pa.string()),
        ("msisdn", pa.string()),
        ("b_party", pa.string()),
        ("caller", pa.string()),
        ("callee", pa.string()),
        ("direction", pa.string()),
        ("type", pa.string()),
        ("call_type", pa.string()),
        ("start_utc", pa.timestamp("s", tz="UTC")),
        ("end_utc", pa.timestamp("s", tz="UTC")),
        ("duration_s", pa.int64()),
        ("start_local", pa.string()),
        ("tz", pa.string()),
        ("first_cell", pa.string()),
        ("first_cell_raw", pa.string()),
        ("first_cell_name", pa.string()),
        ("first_lat", pa.float64()),
        ("first_lon", pa.float64()),
        ("last_cell", pa.string()),
        ("last_cell_raw", pa.string()),
        ("last_cell_name", pa.string()),
        ("last_lat", pa.float64()),
        ("last_lon", pa.float64()),
        ("imei", pa.string()),
        ("imei14", pa.string()),
        ("imsi", pa.string()),
        ("roaming", pa.string()),
        ("dump_sha256", pa.string()),
        ("source_part", pa.string()),
        ("source_line", pa.int64()),
        ("layout", pa.string()),
    ],
    metadata=CELL_KEY_SCHEME,
)

CALL_COLUMNS: list[str] = CALL_SCHEMA.names

#: Columns that identify one row's event: the same call re-sent in another dump of the same
#: subscriber gets the same key (the other party's view of it, another key: see ``call_id``
#: in cdrnet/analysis/contacts.py for how both views count once).
CALL_KEY_COLUMNS: list[str] = ["msisdn", "b_party", "direction", "type", "start_utc", "duration_s"]

#: Reject reasons only call records have.
CALL_REJECT_REASONS: dict[str, str] = {
    "unknown_call_type": "the call type code is not one cdrnet knows (add it under [call_types] in a mapping file)",
    "invalid_duration": "the call duration is not a whole number of seconds in 0-86400",
}
REJECT_REASONS.update(CALL_REJECT_REASONS)
