import dataclasses
import json
from pathlib import Path

import pytest
import torch

import bench
from bench.contract.config import (
    ANONYMIZER_TRAINING_KEYS,
    EVALUATION_KEYS,
    PRESETS,
    config_digest,
    resolve_preset,
    stored_preset,
)
from bench.contract.context import autocast
from bench.contract.dataset import DATASETS
from bench.contract.errors import BenchError
from bench.contract.method import METHODS
from bench.contract.protocol import PROTOCOLS
from bench.store.results import ResultsStore
from tests.conftest import make_record, stored


def test_discovery_finds_every_plugin_folder() -> None:
    assert {"raw", "penalty"} <= set(METHODS.names())
    assert "known" in PROTOCOLS.names()
    assert "synthetic" in DATASETS.names()


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(BenchError, match="unknown method 'nope'; known methods: .*penalty.*raw"):
        METHODS.get("nope")


def test_config_key_is_stable_and_sensitive_to_what_matters() -> None:
    def key(**kw: object) -> str:
        return bench.config("penalty", **kw).key()  # type: ignore[arg-type]

    assert key() == key(B=0.3)  # defaults resolved before hashing
    assert key() != key(B=0.5)
    assert key() != key(seed=1)
    assert key() != key(settings={"anon_epochs": "3"})


def test_preset_settings_keep_their_part_of_the_key() -> None:
    """Each setting declares its part once; the parts decide every record's and fit's key."""
    assert set(ANONYMIZER_TRAINING_KEYS) == {
        "ssl_frame_gap", "anon_encoder", "anon_depth", "anon_decoder", "anon_residual",
        "anon_output", "identity_epochs", "aux_ft_init", "aux_fb_init", "budget_pretrain_epochs",
        "warmup_epochs", "anon_epochs", "anon_patience", "anon_tolerance", "anon_batch",
        "anon_augment", "lr_anon", "lr_budget", "lr_utility", "temperature",
    }  # fmt: skip
    assert set(EVALUATION_KEYS) == {
        "eval_clips", "action_epochs", "action_batch", "lr_action", "privacy_epochs",
        "privacy_batch", "lr_privacy", "eval_patience",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_resolves_as_shipped(name: str) -> None:
    assert resolve_preset(name, {}) == PRESETS[name]


def test_bad_values_are_user_errors() -> None:
    with pytest.raises(BenchError, match="must be >= 0"):
        bench.config("penalty", B=-1)
    with pytest.raises(BenchError, match="has no parameter 'B'"):
        bench.config("raw", B=0.3)
    with pytest.raises(BenchError, match="unknown setting"):
        resolve_preset("tiny", {"nope": "1"})
    with pytest.raises(BenchError, match="expected int"):
        resolve_preset("tiny", {"frames": "many"})
    with pytest.raises(BenchError, match="unknown architecture; known: tiny, r3d_18"):
        resolve_preset("tiny", {"aux_ft_arch": "vgg"})
    assert resolve_preset("tiny", {"aux_fb_arch": "resnet18"}).aux_fb_arch == "resnet18"


def test_precision_sets_the_arithmetic_on_every_device() -> None:
    cpu, x = torch.device("cpu"), torch.ones(4, 4)
    with autocast(cpu, "bf16"):
        assert (x @ x).dtype == torch.bfloat16
    for precision in ("fp32", "auto"):  # auto: bf16 on CUDA only, as before the setting
        with autocast(cpu, precision):
            assert (x @ x).dtype == torch.float32
    assert resolve_preset("tiny", {"precision": "fp32"}).precision == "fp32"
    with pytest.raises(BenchError, match="--set precision=bf61: must be one of .*bf16"):
        resolve_preset("tiny", {"precision": "bf61"})
    old = {k: v for k, v in dataclasses.asdict(PRESETS["tiny"]).items() if k != "precision"}
    assert stored_preset(old).precision == "auto"  # a record from before ran bf16 on CUDA only


@pytest.mark.parametrize(("old", "new", "option"), [("ft_arch", "aux_ft_arch", "--ft-arch"),
                                                    ("fb_arch", "aux_fb_arch", "--fb-arch")])  # fmt: skip
def test_renamed_auxiliary_model_keys_name_the_new_spelling(
    old: str, new: str, option: str
) -> None:
    with pytest.raises(BenchError, match=f"--set {old}: renamed --set {new} .*{option}"):
        resolve_preset("tiny", {old: "r3d_18"})


def test_store_round_trip_is_atomic(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.ensure_writable()
    record = make_record("raw", top1=0.5)
    path = store.save(record)
    key = record["key"]
    assert store.exists(key) and store.load(key)["metrics"]["action_top1"] == 0.5
    assert json.loads(path.read_text())["key"] == key
    assert [p.name for p in store.records_dir.iterdir()] == [f"{key}.json"]  # no temp leftovers
    path.write_text("{}")
    assert not store.exists(key)  # a corrupt record is not a finished cell


def test_unwritable_results_dir_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BenchError, match="not writable"):
        ResultsStore(blocker / "results").ensure_writable()


def test_records_of_an_older_generated_dataset_are_left_out_with_one_line_saying_so(
    tmp_path: Path,
) -> None:
    """A record of synthetic data an older generator rendered is never averaged with records
    of today's data: tables read only the current version and say what they left out."""
    current = make_record("raw", seed=0, top1=0.9)
    old = [make_record("raw", seed=s, top1=0.5) for s in (1, 2)]
    for record in old:
        record["config"]["data_version"] = "v3"
        record["key"] = config_digest(record["config"])  # as that generator's runs keyed it
    loaded = stored(tmp_path, current, *old)
    assert [r["seed"] for r in loaded.records] == [0]
    assert loaded.skipped == [
        "2 records of synthetic data v3 left out: the data is v4 now; rerun them "
        "(a sweep reruns exactly those cells)"
    ]
