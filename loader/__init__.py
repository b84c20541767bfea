"""Data loading: layout detection, parsing, normalisation, application identification."""
