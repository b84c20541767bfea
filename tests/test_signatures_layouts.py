"""Signature tables (modern, paper, user files) and user layout mapping files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cdrnet.errors import LayoutFileError, SignatureError
from cdrnet.loader.ipaddr import normalise_ips
from cdrnet.loader.layouts import load_layout_file
from cdrnet.loader.signatures import classify, load_signatures, table_frame
from tests.conftest import ingest


def apps(ips, ports, table="modern", extra=None, proto=None, when="2024-01-01"):
    rules = load_signatures(table, extra)
    canon, bad, ver, hi, lo = normalise_ips(pd.Series(ips, dtype="string"))
    port = pd.Series(ports, dtype="Int64")
    pr = pd.Series(proto or [""] * len(ips), dtype="string")
    t = pd.Series(pd.to_datetime([when] * len(ips)).tz_localize("UTC"))
    return classify(ver, hi, lo, port, pr, t, rules)["app"].tolist()


def test_modern_corrects_the_papers_ports():
    got = apps(["1.2.3.4"] * 5, [5223, 5228, 4244, 5242, 5222])
    # 5222 alone (outside Meta's ranges) is any XMPP service: a possibility, never "WhatsApp".
    assert got == ["Apple Push (APNs)", "Google FCM push", "Viber", "Viber", "XMPP (WhatsApp possible)"]


def test_paper_table_reproduced():
    got = apps(["1.2.3.4"] * 8, [5223, 5228, 443, 3478, 8080, 993, 40020, 60000], table="paper")
    assert got == ["WhatsApp", "WhatsApp", "Web via HTTPS", "Skype", "Web via HTTP", "Email",
                   "Microsoft Online Games", "Skype"]


def test_prefix_precedence_and_meta_ambiguity():
    got = apps(["157.240.1.1", "157.240.1.1", "91.108.56.1", "17.5.5.5", "52.113.0.9", "8.8.8.8", "9.9.9.9"],
               [5222, 443, 443, 5223, 3478, 443, 12345])
    assert got == ["WhatsApp", "Meta (WhatsApp/Facebook/Instagram)", "Telegram", "Apple Push (APNs)",
                   "Microsoft Teams/Skype", "Web (HTTPS)", ""]


def test_validity_period_is_respected(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("app,vendor,category,proto,ports,prefixes,valid_from,valid_to,confidence,source\n"
                 "CaseApp,X,messaging,,,203.0.113.0/24,2024-01-01,2024-06-30,high,case notes\n")
    assert apps(["203.0.113.7"], [443], extra=[f], when="2024-03-01") == ["CaseApp"]
    assert apps(["203.0.113.7"], [443], extra=[f], when="2024-07-01") == ["Web (HTTPS)"]


def test_user_rows_override_builtin(tmp_path):
    f = tmp_path / "o.csv"
    f.write_text("app,ports,prefixes\nOur WhatsApp,443,157.240.0.0/16\n")
    assert apps(["157.240.9.9"], [443], extra=[f]) == ["Our WhatsApp"]
    assert table_frame(load_signatures("modern", [f])).iloc[0]["app"] == "Our WhatsApp"


@pytest.mark.parametrize("text,msg", [("app,ports,prefixes\nX,99999,\n", "outside 0-65535"),
                                      ("app,ports,prefixes\nX,,\n", "needs ports or prefixes"),
                                      ("app,ports,prefixes\nX,,1.2.3.400/8\n", "line 2"),
                                      ("name,port\nX,1\n", "missing column")])
def test_bad_signature_files(tmp_path, text, msg):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(SignatureError, match=msg):
        load_signatures("modern", [f])


def test_invalid_ips_flagged():
    _, bad, ver, _, _ = normalise_ips(pd.Series(["1.2.3.4", "", "zz", "::1"], dtype="string"))
    assert bad.tolist() == [False, False, True, False]
    assert np.array_equal(ver, [4, 0, 0, 6])


MAPPING_TOML = """
name = "acme"
timezone = "UTC"
datetime_formats = ["%Y-%m-%d %H:%M:%S"]
[fields]
msisdn = "Subscriber"
start = "Begin"
end = "Finish"
dest_ip = "Server"
dest_port = "Server Port"
"""

MAPPING_YAML = """
name: acme-yaml
time_zone: UTC
date_format: "%Y-%m-%d %H:%M:%S"
fields:
  msisdn: Subscriber
  start: Begin
  dest_ip: Server
  dest_port: Server Port
"""


@pytest.mark.parametrize("suffix,text", [(".toml", MAPPING_TOML), (".yaml", MAPPING_YAML)])
def test_user_layout_file(ws, tmp_path, suffix, text):
    m = tmp_path / f"acme{suffix}"
    m.write_text(text)
    data = tmp_path / "acme.csv"
    data.write_text("Report for case 9\nSubscriber|Begin|Finish|Server|Server Port\n"
                    "+919876543210|2024-05-01 10:00:00|2024-05-01 10:01:00|91.108.4.1|443\n")
    layout = load_layout_file(m)
    rep = ingest(ws, data, layouts=[layout]).loaded[0]
    assert rep.loaded == 1 and rep.nondata == 2
    got = ws.sessions()
    assert got["start_utc"].iloc[0] == pd.Timestamp("2024-05-01 10:00:00", tz="UTC")
    assert got["app"].iloc[0] == "Telegram" and got["layout"].iloc[0] == layout.name


def test_bad_layout_file(tmp_path):
    m = tmp_path / "x.toml"
    m.write_text('[fields]\nmsisdn = "A"\nbogus = "B"\n')
    with pytest.raises(LayoutFileError, match="unknown canonical field"):
        load_layout_file(m)


@pytest.mark.parametrize("zone", ["IST", "+05:30", "Asia/Kolkatta"])
def test_a_layout_file_with_an_unknown_time_zone_is_refused_when_read(tmp_path, zone):
    """Before, the name passed and the ingest ended in a ZoneInfoNotFoundError traceback."""
    m = tmp_path / "acme.toml"
    m.write_text(MAPPING_TOML.replace('timezone = "UTC"', f'timezone = "{zone}"'))
    assert f'timezone = "{zone}"' in m.read_text()
    with pytest.raises(LayoutFileError, match=f"unknown time zone '{re.escape(zone)}'"):
        load_layout_file(m)
