"""Maps, charts and reports."""
