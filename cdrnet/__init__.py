"""cdrnet: find hidden people networks in telecom data-session dumps (GPRS CDR / IPDR)."""

__version__ = "0.1.0"
