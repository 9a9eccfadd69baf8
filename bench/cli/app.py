"""The `bench` Typer application: every command, registered from its command-group module."""

from __future__ import annotations

import typer

from bench.cli import anonymizers, data, listings, perf, reports, run

app = typer.Typer(
    help="privbench: privacy-preserving action recognition benchmark.",
    no_args_is_help=True,
    add_completion=False,
)

app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    epilog=run.RUN_EPILOG,
)(run.run)
app.command()(listings.methods)
app.command()(listings.protocols)
app.command()(listings.datasets)
app.command()(perf.perf)
app.command()(run.sweep)
app.add_typer(data.data_app, name="data")
app.command()(reports.table)
app.command()(reports.figure)
app.command()(reports.report)
app.command(context_settings=anonymizers.EXTRA)(anonymizers.fits)
app.command(context_settings=anonymizers.EXTRA)(anonymizers.anonymize)
app.command(context_settings=anonymizers.EXTRA)(anonymizers.export)
