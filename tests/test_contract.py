"""The plug-in contract, checked for every registered method, protocol, dataset family,
table and figure (as benchopt's own tests run over every solver): a new plug-in file is
tested here without anyone adding it to a list."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

import bench
from bench.contract.config import PRESETS
from bench.contract.context import RunContext, make_progress
from bench.contract.dataset import (
    DATASETS,
    Benchmark,
    ImageArray,
    Splits,
    VideoArray,
    to_float_clip,
)
from bench.contract.method import METHODS, Method, Param
from bench.contract.protocol import PROTOCOLS
from bench.data.frame_store import SubsetFrames
from bench.reports.figure_specs import FIGURES
from bench.reports.table_specs import TABLES
from bench.store.results import metric_problem
from tests.test_cli import bench as cli

# What a learned method's fit may cost here: one epoch of each stage, a few clips a batch.
TINY_FIT = {
    "identity_epochs": 0,
    "warmup_epochs": 1,
    "anon_epochs": 1,
    "anon_batch": 8,
    "privacy_batch": 8,
}


def context(tmp_path: Path, cache_dir: Path, **changes: object) -> RunContext:
    console = Console(quiet=True)
    preset = dataclasses.replace(PRESETS["tiny"], **changes)
    return RunContext(
        preset, torch.device("cpu"), 0, cache_dir, tmp_path, console, make_progress(console)
    )


def synthetic(cache_dir: Path, per_split: int = 24) -> Benchmark:
    """The embedded benchmark's known setting, cut to `per_split` evenly spaced items of every
    split (all classes kept), so a learned method's fit takes seconds."""
    data = DATASETS.get("synthetic")().load_cached("known", cache_dir)  # type: ignore[attr-defined]

    def cut(part: VideoArray | ImageArray) -> VideoArray | ImageArray:
        keep = list(range(0, len(part), max(1, len(part) // per_split)))[:per_split]
        masks = None if part.person_masks is None else part.person_masks[keep]
        if isinstance(part, VideoArray):
            return VideoArray(SubsetFrames(part.videos, keep), part.labels[keep], masks)
        return ImageArray(SubsetFrames(part.images, keep), part.targets[keep], masks)

    def splits(s: Splits) -> Splits:
        return Splits(cut(s.train), cut(s.val), cut(s.test))

    return dataclasses.replace(
        data,
        action=dataclasses.replace(data.action, splits=splits(data.action.splits)),
        privacy=dataclasses.replace(data.privacy, splits=splits(data.privacy.splits)),
    )


def clips_of(data: Benchmark, n: int = 2) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`n` test clips of the benchmark as float (N, C, T, H, W), and their person masks."""
    test = data.action.splits.test
    clips = torch.stack(
        [to_float_clip(test.videos.read(i), PRESETS["tiny"].frame_size) for i in range(n)]
    )
    masks = None if test.person_masks is None else test.person_masks[:n].float().unsqueeze(1)
    return clips, masks


def out_of_range(param: Param) -> object | None:
    """A value the parameter must reject, or None when every value of its type is allowed."""
    if param.choices is not None:
        return "not-a-choice" if param.type is str else max(map(float, param.choices)) + 1
    if param.minimum is not None:
        return param.minimum - (0 if param.exclusive_minimum else 1)
    if param.maximum is not None:
        return param.maximum + 1
    return None


# ------------------------------------------------------------------ methods


@pytest.mark.parametrize("name", METHODS.names())
def test_method_declares_itself(name: str) -> None:
    cls = METHODS.get(name)
    assert issubclass(cls, Method) and cls.name == name
    assert cls.description, f"method '{name}' needs a one-line description"
    for pname, param in cls.params.items():
        assert isinstance(param, Param) and param.help, f"--{pname} of '{name}' needs help"
    assert cls.resolve_params({}) == {k: p.parse(k, p.default) for k, p in cls.params.items()}
    code, out = cli("methods", name)
    assert code == 0 and all(f"--{p}" in out for p in cls.params)


@pytest.mark.parametrize(
    ("name", "pname"),
    [(m, p) for m in METHODS.names() for p in METHODS.get(m).params],
)
def test_method_parameter_is_validated_at_the_edge(name: str, pname: str) -> None:
    param = METHODS.get(name).params[pname]
    bad = out_of_range(param)
    if param.type in (int, float):
        with pytest.raises(bench.BenchError, match=f"--{pname}"):
            bench.config(name, **{pname: "nan" if param.type is float else "1.5x"})
    if bad is not None:
        with pytest.raises(bench.BenchError, match=f"--{pname}"):
            bench.config(name, **{pname: bad})


@pytest.mark.parametrize("name", METHODS.names())
def test_method_keeps_the_clip_contract(name: str, tmp_path: Path, cache_dir: Path) -> None:
    """fit() then anonymize(): same shape, finite, in [0, 1]; a learned fit survives
    state_dict() / load_state_dict() exactly, which fit reuse relies on."""
    cls = METHODS.get(name)
    data = synthetic(cache_dir)
    ctx = context(tmp_path, cache_dir, **(TINY_FIT if cls.trainable else {}))
    method = cls()
    method.fit(data, ctx)
    clips, masks = clips_of(data)
    with torch.no_grad():
        out = method.anonymize(clips, masks)
    assert out.shape == clips.shape and out.dtype == clips.dtype
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    state = method.state_dict()
    if cls.trainable:
        assert state is not None, f"learned method '{name}' must expose its fit"
        again = cls()
        again.load_state_dict(state, ctx)
        with torch.no_grad():
            assert torch.equal(again.anonymize(clips, masks), out)


# ------------------------------------------------------------------ protocols


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_protocol_declares_itself(name: str) -> None:
    cls = PROTOCOLS.get(name)
    assert cls.name == name and cls.description and cls.metrics
    offered = {role for _, family in DATASETS.items() for role in family.roles}
    assert set(cls.roles) <= offered, f"protocol '{name}' reads a setting no dataset has"
    assert bench.config("raw", protocol=name).protocol == name
    code, out = cli("protocols")
    assert code == 0 and name in out


@pytest.mark.parametrize("name", PROTOCOLS.names())
def test_protocol_reports_its_metrics_in_range(name: str, tmp_path: Path, cache_dir: Path) -> None:
    rec = bench.run(
        "raw",
        protocol=name,
        settings={"action_epochs": 1, "privacy_epochs": 1, "inversion_epochs": 1},
        results_dir=tmp_path,
        cache_dir=cache_dir,
        quiet=True,
    )
    metrics = PROTOCOLS.get(name).metrics
    assert set(metrics) <= set(rec.metrics)
    # fractions in [0, 1], or in the range `METRIC_RANGES` declares (PSNR in dB)
    assert metric_problem(rec.metrics) == ""
    assert all(math.isfinite(v) for v in rec.metrics.values())
    assert rec.path.is_file() and not rec.reused


# ------------------------------------------------------------------ dataset families


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_family_declares_itself(name: str, tmp_path: Path) -> None:
    cls = DATASETS.get(name)
    assert cls.name == name and cls.description and "known" in cls.roles
    code, out = cli("datasets")
    assert code == 0 and name in out
    try:
        cfg = bench.config("raw", dataset=name)
    except bench.BenchError as exc:  # a real dataset: it names what it needs, in one line
        assert "--data-root" in str(exc) and "\n" not in str(exc)
    else:
        assert cfg.dataset == name
    with pytest.raises(bench.BenchError, match="no such folder"):
        bench.config("raw", dataset=name, data_roots={"x": tmp_path / "missing"})


# ------------------------------------------------------------------ tables and figures


@pytest.mark.parametrize("number", sorted(TABLES))
def test_every_table_renders_the_published_numbers_without_records(
    number: int, tmp_path: Path
) -> None:
    for fmt in ("md", "latex", "csv"):
        code, out = cli("table", str(number), "--paper", "-f", fmt, "--results-dir", str(tmp_path))
        assert code == 0 and out.strip(), (number, fmt, out)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_says_what_to_run_when_it_has_no_records(name: str, tmp_path: Path) -> None:
    code, out = cli("figure", name, "--results-dir", str(tmp_path))
    assert code == 2 and out.startswith("error:") and "bench sweep" in out
    code, out = cli("figure", "--help")
    assert code == 0 and name in out
