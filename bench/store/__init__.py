"""Stored results: the results store (one JSON record per run, atomic writes, run and fit
folders), reading records back for tables and figures, and the provenance kept with each.

May import: `bench.contract`, `bench.store`.
"""
