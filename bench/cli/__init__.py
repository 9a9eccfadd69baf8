"""The `bench` command line: parsing and printing only, one module per command group.

May import every wing; nothing imports it.
"""

from bench.cli.app import app

__all__ = ["app"]
