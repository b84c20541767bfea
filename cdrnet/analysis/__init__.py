"""Analysis on the canonical session table: co-usage, scoring, profiles, trends."""
