"""The Python API: the runs, records, tables and figures of the CLI, by keyword.

    import bench

    rec = bench.run(method="penalty", B=0.3, protocol="known", seed=0)
    rec.metrics["privacy_cmap"]
    runs = bench.records(results_dir="results")
    runs.to_frame().groupby("method")["privacy_cmap"].mean()  # pip install "privbench[frames]"
    print(bench.table(1, runs, format="latex"))
    bench.figure("pareto", runs).savefig("pareto.png")
    fa = bench.load_anonymizer(method="penalty", B=0.3)  # a stored fA*, as a torch module

Method parameters are keywords too (`B=0.3`, `factor=4`), exactly as `bench run --B 0.3`;
`settings` are the `--set` overrides of the preset. Everything is validated as on the CLI
and a bad value raises `BenchError` with the same one-line message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from rich.console import Console

from bench.contract.config import RunConfig
from bench.contract.errors import BenchError
from bench.contract.plugins import load_plugin
from bench.data.cache import resolve_cache_dir
from bench.deployment.anonymizers import PaddedAnonymizer
from bench.deployment.fit_catalog import StoredFit, address_anonymizer, stored_fits
from bench.orchestration.cell import Cell
from bench.orchestration.runner import Record, execute, settle_aux_inits
from bench.reports.figure_specs import FigureRequest, make_figure
from bench.reports.tables import build_table, check_format, render, table_spec
from bench.store.reading import RecordSet, setting_text
from bench.store.results import open_store

__all__ = [
    "BenchError",
    "Record",
    "RecordSet",
    "StoredFit",
    "config",
    "figure",
    "fits",
    "load_anonymizer",
    "records",
    "run",
    "table",
]


def config(
    method: str = Cell.method,
    *,
    protocol: str = Cell.protocol,
    dataset: str = Cell.dataset,
    preset: str = Cell.preset,
    seed: int = Cell.seed,
    settings: Mapping[str, Any] | None = None,
    data_roots: Mapping[str, str | Path] | None = None,
    ft_arch: str | None = Cell.ft_arch,
    fb_arch: str | None = Cell.fb_arch,
    ft_init: str = Cell.ft_init,
    fb_init: str = Cell.fb_init,
    plugins: Sequence[str | Path] = (),
    **params: Any,
) -> RunConfig:
    """The validated config of one cell, as `bench run` with the same options builds it."""
    for plugin in plugins:
        load_plugin(Path(plugin))
    return Cell(
        method=method,
        params=params,
        protocol=protocol,
        dataset=dataset,
        preset=preset,
        overrides=_settings(settings),
        seed=seed,
        data_roots=_roots(data_roots),
        ft_arch=ft_arch,
        fb_arch=fb_arch,
        ft_init=ft_init,
        fb_init=fb_init,
    ).config()


def _settings(settings: Mapping[str, Any] | None) -> dict[str, str]:
    """`settings` as `--set` takes them (`anon_decoder=(32, 16, 8)`: '32,16,8')."""
    return {k: setting_text(v) for k, v in (settings or {}).items()}


def _roots(data_roots: Mapping[str, str | Path] | None) -> dict[str, str]:
    """`data_roots` as `--data-root NAME=DIR` gives them."""
    return {k: str(v) for k, v in (data_roots or {}).items()}


def run(
    method: str = Cell.method,
    *,
    results_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    device: str = "auto",
    force: bool = False,
    quiet: bool = False,
    allow_scratch: bool = False,
    **options: Any,
) -> Record:
    """Run one cell (or read its stored record) and return the record, as `bench run` does
    (without the raw reference; run `method="raw"` for it).

    `options` are `config`'s keywords: protocol, dataset, preset, seed, settings,
    data_roots, ft_arch / fb_arch / ft_init / fb_init, plugins, and the method's parameters.
    `allow_scratch` is `bench run --allow-scratch`.
    """
    store = open_store(results_dir)
    cache = resolve_cache_dir(cache_dir)
    cfg = settle_aux_inits(config(method, **options), cache, allow_scratch)
    return execute(cfg, store, cache, device, force=force, console=Console(quiet=quiet))


def records(results_dir: str | Path | None = None) -> RecordSet:
    """The readable records of a results dir (default $BENCH_RESULTS_DIR or ./results);
    unreadable ones are listed in `.skipped`. `.rows()` gives one flat dict per record (the
    columns of `bench records`), `.to_frame()` a pandas DataFrame (`privbench[frames]`)."""
    return RecordSet.load(results_dir)


def table(
    number: int,
    runs: RecordSet | None = None,
    *,
    format: str = "md",
    paper: bool = False,
    preset: str | None = None,
    fragment: bool = False,
    cost: bool = False,
) -> str:
    """The paper's Table `number` from `runs` (default: `records()`), as `bench table` prints it
    (`cost`: with the practicality columns of `bench table --cost`)."""
    check_format(format)
    found = records() if runs is None else runs
    found.check_preset(preset)
    built = build_table(table_spec(number), found, paper, preset, cost=cost)
    return render(built, format, fragment)


def figure(
    name: str,
    runs: RecordSet | None = None,
    *,
    dataset: str = Cell.dataset,
    protocol: str = Cell.protocol,
    preset: str | None = None,
    cache_dir: str | Path | None = None,
) -> Figure:
    """One of the paper's figures (see `bench.reports.figure_specs.FIGURES`) from `runs`."""
    found = records() if runs is None else runs
    request = FigureRequest(dataset, protocol, preset, Path(cache_dir) if cache_dir else None)
    return make_figure(name, found, request)


def fits(results_dir: str | Path | None = None) -> list[StoredFit]:
    """The stored anonymizers fA* of a results dir, oldest first, as `bench fits` lists them."""
    store = open_store(results_dir)
    return stored_fits(store, lambda text: Console(stderr=True).print(f"warning: {text}"))


def load_anonymizer(
    fit: str | None = None,
    *,
    method: str | None = None,
    results_dir: str | Path | None = None,
    dataset: str = Cell.dataset,
    preset: str = Cell.preset,
    seed: int = Cell.seed,
    settings: Mapping[str, Any] | None = None,
    data_roots: Mapping[str, str | Path] | None = None,
    **params: Any,
) -> PaddedAnonymizer:
    """A stored fA* as a module on the CPU in eval mode: float (N, 3, H, W) RGB in [0, 1],
    any size, to the same. Named by its key (or a unique prefix) or by the options of the
    `bench run` that trained it (`method="penalty", B=0.3`); BenchError if it is not stored."""
    found = fits(results_dir)
    trained = Cell(
        params=params,
        dataset=dataset,
        preset=preset,
        overrides=_settings(settings),
        seed=seed,
        data_roots=_roots(data_roots),
    )
    chosen = address_anonymizer(found, fit, method, trained)
    if chosen.fit is None:
        raise BenchError(f"method '{method}' learns nothing: there is no fA* to load")
    return PaddedAnonymizer(chosen.fit.anonymizer()).eval()
