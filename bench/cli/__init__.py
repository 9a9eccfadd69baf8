"""The `bench` command line: parsing and printing only, one module per command group,
named after it: `run` (bench run, bench sweep), `listings` (bench methods / protocols /
datasets), `data` (bench data ...), `tables` (bench table), `figures` (bench figure /
report), `perf`, `anonymizers` (bench fits / anonymize / export);
`common` holds the options spelled the same on every command, `app` registers them all.

May import every wing; nothing imports it.
"""

from bench.cli.app import app

__all__ = ["app"]
