"""Wire facts, no I/O: API names and codes, envelope bytes, local request rules, currency data."""
