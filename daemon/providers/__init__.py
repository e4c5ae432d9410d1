"""MIS providers: one folder per provider, each with client, mapping, driver and sandbox modules."""
