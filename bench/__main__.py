"""`python -m bench ...` (and `torchrun ... -m bench ...`) runs the `bench` command."""

from bench.cli.app import app

app()
