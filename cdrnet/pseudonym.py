"""Keyed pseudonyms for sharing outputs outside the case team.

MSISDN, IMSI and IMEI values are replaced by HMAC-SHA256 tokens under a key
from the environment (CDRNET_PSEUDONYM_KEY): the same number gets the same
token in every output made with the same key, and nobody without the key can
reverse or recompute it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable

import pandas as pd

from cdrnet.errors import UsageError

ENV_KEY = "CDRNET_PSEUDONYM_KEY"
PREFIX = {"msisdn": "S", "imsi": "I", "imei": "D"}


def pseudonymizer(kind: str = "msisdn") -> Callable[[str], str]:
    """A function mapping identifiers of one kind to stable tokens (empty stays empty)."""
    key = os.environ.get(ENV_KEY, "")
    if len(key) < 16:
        raise UsageError(f"--pseudonymize needs a secret key of 16+ characters in {ENV_KEY}",
                         f"export {ENV_KEY}=... (keep it with the case; the same key gives the same tokens)")
    secret = key.encode()
    cache: dict[str, str] = {}

    def token(value: str) -> str:
        if not value:
            return value
        if value not in cache:
            digest = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
            cache[value] = f"{PREFIX[kind]}-{digest[:16]}"
        return cache[value]

    return token


def pseudonymize_frame(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Replace the given columns (column -> kind) by tokens; values map once per distinct value."""
    out = frame.copy()
    for col, kind in columns.items():
        if col in out:
            fn = pseudonymizer(kind)
            uniq = pd.unique(out[col].astype(str))
            mapping = {u: fn(u) for u in uniq}
            out[col] = out[col].astype(str).map(mapping)
    return out
