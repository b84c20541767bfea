"""Layout declarations: how an operator's columns map onto the canonical record.

Built-in layouts ship as TOML files in ``layouts/``; a user mapping file has the
same shape, so supporting a new operator never needs code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from cdrnet.errors import LayoutFileError

#: Input fields a layout may map (canonical name -> meaning), checked when loading a mapping.
INPUT_FIELDS: dict[str, str] = {
    "msisdn": "subscriber number",
    "imsi": "SIM identity",
    "imei": "device identity (IMEI or IMEISV)",
    "start": "start date and time in one column",
    "end": "end date and time in one column",
    "start_date": "start date (combined with start_time)",
    "start_time": "start time of day",
    "end_date": "end date (combined with end_time)",
    "end_time": "end time of day",
    "event_time": "precise event time that wins over start (Jio TIME1)",
    "alloc_start_date": "start date of the public IP allocation window",
    "alloc_start_time": "start time of the public IP allocation window",
    "alloc_end_date": "end date of the public IP allocation window",
    "alloc_end_time": "end time of the public IP allocation window",
    "duration": "session duration in seconds",
    "src_ip": "subscriber (private) IP",
    "src_port": "subscriber (private) port",
    "public_ip": "translated public IP (CGNAT)",
    "public_port": "translated public port",
    "dest_ip": "destination IP",
    "dest_port": "destination port",
    "proto": "transport protocol (TCP/UDP)",
    "cell_id": "cell global identity",
    "cell_name": "cell name or location text",
    "lat": "latitude of the cell (decimal degrees)",
    "lon": "longitude of the cell (decimal degrees)",
    "uplink": "uplink bytes",
    "downlink": "downlink bytes",
    "rat": "radio access technology",
    "apn": "access point name",
    "charging_id": "charging id",
    "serial": "row serial number",
    "connection_type": "connection type (prepaid/postpaid)",
    # Voice/SMS call records and tower dumps (kind = "calls"):
    "b_party": "the other party's number (B party; with parties = \"calling_called\": the called number)",
    "call_type": "call type code (IN/OUT/SMT/SMO, a_in/a_out, MOC/MTC ...)",
    "lat_lon": "latitude and longitude of the (first) cell in one column (\"21.29669/72.8915\")",
    "last_cell_id": "last cell global identity of a call",
    "last_cell_name": "last cell name or location text",
    "last_lat_lon": "latitude and longitude of the last cell in one column",
    "roaming": "roaming network or circle",
}

#: What a layout's rows are: data sessions (IPDR, GPRS reports) or call events (voice/SMS CDRs,
#: tower dumps), stored in separate tables (cdrnet/model.py SESSION_SCHEMA, CALL_SCHEMA).
KINDS = ("sessions", "calls")
#: How a call layout writes its two parties: the record's own subscriber and the other party
#: ("target_other": Airtel, Vi, BSNL, DoT), or the calling and the called number, whoever the
#: subscriber is ("calling_called": Jio; the call type says which of the two is the subscriber).
PARTIES = ("target_other", "calling_called")
#: What a call type code may mean (a mapping file's [call_types] values).
CALL_MEANINGS = ("out voice", "in voice", "out sms", "in sms")

TIME_LEVELS = ("flow", "session", "allocation")
#: What a row's end time describes: its own flow, the (partial) record shared by several flow
#: rows, the public-IP allocation window, or nothing (no end column).
END_SCOPES = ("flow", "record", "allocation", "none")
#: What a row's volumes describe: its own flow, the record's totals repeated on each of its flow
#: rows (summing them per row overstates volume), or nothing (no volume columns).
VOLUME_SCOPES = ("flow", "record", "none")
#: How a layout writes its cell ids: "auto" (decimal with separators, or hex when a value holds
#: a hex letter) or "hex_eci" (Jio: MCC, MNC, then the LTE cell identity in hex, always).
CELL_FORMATS = ("auto", "hex_eci")


def call_code(text: str) -> str:
    """A call type code compared loosely: ``a_in``, ``A-IN`` and ``A IN`` are one code (``AIN``)."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


_SPACES = re.compile(r"\s+")


def normalise_header(name: str) -> str:
    """Compare headers loosely: operators vary case, spacing and Excel wrapping."""
    text = name.replace("\ufeff", "").strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    text = text.strip().strip('"').strip("'").strip()
    return _SPACES.sub(" ", text).lower()


@dataclass(frozen=True)
class Layout:
    """One dump layout: header names per canonical field plus parsing rules.

    ``fields`` holds each field's first header name (what docs and date-order hints read);
    ``alternatives`` holds every name a field may have, in order of preference: exports
    of one layout differ in wording (``Start Date`` / ``Start Date of Public IP Address
    allocation``), and some split one field over two columns (``Destination_IP4`` and
    ``Destination_IP6``), which the loader coalesces row by row.
    ``required`` are the columns that define the layout (all must be present);
    ``required_any`` are columns of which at least one must be, so that a voice CDR that
    shares a data report's first columns is never taken for it.
    """

    name: str
    fields: dict[str, str]
    required: tuple[str, ...]
    alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict)
    required_any: tuple[str, ...] = ()
    cell_format: str = "auto"
    datetime_formats: tuple[str, ...] = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "ISO8601")
    timezone: str | None = None
    has_destination: bool = True
    time_level: str = "flow"
    fallback_time_level: str | None = None
    end_scope: str = "flow"
    volume_scope: str = "flow"
    description: str = ""
    #: The operator that sends this layout ("" when any may: the DoT uniform wording, the paper's).
    operator: str = ""
    source: str = "built-in"
    kind: str = "sessions"
    parties: str = "target_other"
    #: Extra call type codes of this layout (normalised code -> one of CALL_MEANINGS).
    call_types: dict[str, str] = field(default_factory=dict, compare=False)
    normalised: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        names = {k: self.alternatives.get(k) or (v,) for k, v in self.fields.items()}
        object.__setattr__(self, "alternatives", names)
        object.__setattr__(
            self, "normalised", {k: tuple(normalise_header(n) for n in v) for k, v in names.items()}
        )


def _choice(data: dict, key: str, default: str, allowed: tuple[str, ...], source: str) -> str:
    """A mapping setting that takes one of a few values (empty: the default), or a clear refusal."""
    value = str(data.get(key) or default)
    if value not in allowed:
        raise LayoutFileError(f"{source}: {key} must be one of {', '.join(allowed)}")
    return value


def _from_mapping(data: dict, source: str) -> Layout:
    try:
        raw_fields = dict(data["fields"])
    except (KeyError, TypeError, ValueError) as exc:
        raise LayoutFileError(f"{source}: a layout needs a [fields] table (canonical field = header)") from exc
    alternatives: dict[str, tuple[str, ...]] = {}
    for k, v in raw_fields.items():
        names = tuple(str(x) for x in v) if isinstance(v, list | tuple) else (str(v),)
        if not names or not all(n.strip() for n in names):
            raise LayoutFileError(f"{source}: field {k} needs a header name (or a list of names)")
        alternatives[str(k)] = names
    fields = {k: v[0] for k, v in alternatives.items()}
    unknown = sorted(set(fields) - set(INPUT_FIELDS))
    if unknown:
        raise LayoutFileError(
            f"{source}: unknown canonical field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(INPUT_FIELDS))}"
        )
    if "msisdn" not in fields:
        raise LayoutFileError(f"{source}: the mapping must name the msisdn column")
    kind = _choice(data, "kind", "sessions", KINDS, source)
    if kind == "calls" and not {"b_party", "call_type"} <= set(fields):
        raise LayoutFileError(f"{source}: a call layout (kind = \"calls\") must name the b_party and call_type columns")
    if not ({"start", "event_time"} & set(fields) or {"start_date", "start_time"} <= set(fields)):
        raise LayoutFileError(
            f"{source}: the mapping must name a start time (start, or start_date and start_time)"
        )
    required = tuple(data.get("required")
                     or [f for f in ("msisdn", "start", "start_date", "start_time", "dest_port", "b_party", "call_type")
                         if f in fields])
    missing = [r for r in required if r not in fields]
    if missing:
        raise LayoutFileError(f"{source}: required field(s) {', '.join(missing)} are not mapped")
    level = _choice(data, "time_level", "flow", TIME_LEVELS, source)
    end_scope = _choice(data, "end_scope", "flow" if {"end", "end_date", "duration"} & set(fields) else "none",
                        END_SCOPES, source)
    volume_scope = _choice(data, "volume_scope", "flow" if {"uplink", "downlink"} & set(fields) else "none",
                           VOLUME_SCOPES, source)
    required_any = tuple(str(f) for f in data.get("required_any") or [])
    missing_any = [r for r in required_any if r not in fields]
    if missing_any:
        raise LayoutFileError(f"{source}: required_any field(s) {', '.join(missing_any)} are not mapped")
    cell_format = _choice(data, "cell_format", "auto", CELL_FORMATS, source)
    parties = _choice(data, "parties", "target_other", PARTIES, source)
    call_types = {}
    for code, meaning in dict(data.get("call_types") or {}).items():
        if str(meaning) not in CALL_MEANINGS:
            raise LayoutFileError(f"{source}: call type {code} must mean one of {', '.join(CALL_MEANINGS)}")
        call_types[call_code(str(code))] = str(meaning)
    formats = (data.get("datetime_formats") or data.get("date_format")
               or ["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "ISO8601"])
    if isinstance(formats, str):
        formats = [formats]
    timezone = _zone(data.get("timezone") or data.get("time_zone"), source)
    return Layout(
        name=str(data.get("name") or Path(source).stem),
        fields=fields,
        required=required,
        alternatives=alternatives,
        required_any=required_any,
        cell_format=cell_format,
        datetime_formats=tuple(str(f) for f in formats),
        timezone=timezone,
        has_destination=bool(data.get("has_destination", bool({"dest_port", "dest_ip"} & set(fields)))),
        time_level=level,
        fallback_time_level=data.get("fallback_time_level"),
        end_scope=end_scope,
        volume_scope=volume_scope,
        description=str(data.get("description", "")),
        operator=str(data.get("operator", "")),
        source=source,
        kind=kind,
        parties=parties,
        call_types=call_types,
    )


def _zone(value: object, source: str) -> str | None:
    """The mapping's ``timezone``, checked when the file is read: an unknown name (``IST``) ended
    the ingest in a traceback from the first row's times, after the header had been found."""
    if value is None or value == "":
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LayoutFileError(f"{source}: unknown time zone '{value}' in timezone; use an IANA name such as "
                              f"Asia/Kolkata or UTC") from exc
    return str(value)


def load_layout_file(path: str | Path) -> Layout:
    """Read a user mapping file (TOML or YAML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise LayoutFileError(f"cannot read layout file {p}: {exc.strerror}") from exc
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise LayoutFileError(f"layout file {p} is not valid TOML/YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LayoutFileError(f"layout file {p} must hold a table/mapping")
    return _from_mapping(data, str(p))


def builtin_layouts() -> list[Layout]:
    """The layouts recognised without any flag, most specific first."""
    folder = resources.files("cdrnet.loader") / "layouts"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.append(_from_mapping(tomllib.loads(entry.read_text(encoding="utf-8")), f"built-in:{entry.name}"))
    return out
