"""`python -m bench.cli ...` runs the `bench` command."""

from bench.cli.app import app

app()
