"""What protocols do with a fitted fA*: anonymize splits, train and score fresh fT' / fB'.

* utility: a fresh fT' is trained on fA*(action train), the epoch with the best val top-1 is
  kept, and it is scored on fA*(action test) as video-level top-1 (softmax averaged over
  `eval_clips` evenly spaced clips per video);
* privacy: a fresh fB' is trained on fA*(private train) with multi-label BCE, the epoch with
  the best val cMAP is kept, and it is scored on fA*(private test) as cMAP and macro F1 at
  sigmoid >= 0.5;
* pretrained attack: fB' is trained and selected on the raw private images, then scores
  fA*(private test) without further training.
The architectures and initialisations of fT' and fB' are the run's `EvalModels`. Test splits
are only ever scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.contract.config import EvalModels
from bench.contract.context import RunContext, seed_everything
from bench.contract.dataset import Benchmark, ImageArray, PrivacyData, Splits
from bench.contract.method import Method
from bench.models.action import action_checkpoint, build_action_model
from bench.models.privacy import AttributeClassifier, privacy_checkpoint
from bench.models.weights import require_weights
from bench.training.anonymize_splits import anonymize_images, anonymized_splits
from bench.training.fresh_models import (
    action_top1,
    privacy_scores,
    train_action_model,
    train_privacy_model,
)


def check_checkpoints(models: EvalModels, cache_dir: Path) -> None:
    """Fail before any training when fT' or fB' needs a checkpoint that is not on disk.

    Only the file's presence is checked here; it is read once, when the model is built.
    """
    for option, checkpoint in (
        (f"--ft-arch {models.ft_arch} --ft-init {models.ft_init}",
         action_checkpoint(models.ft_arch, models.ft_init)),
        (f"--fb-arch {models.fb_arch} --fb-init {models.fb_init}",
         privacy_checkpoint(models.fb_arch, models.fb_init)),
    ):  # fmt: skip
        if checkpoint is not None:
            require_weights(checkpoint, cache_dir, option)


def evaluate_utility(data: Benchmark, action: Splits, ctx: RunContext) -> float:
    """Train a fresh fT' on the given (anonymized) action splits; test top-1."""
    seed_everything(ctx.seed)  # each fresh model starts from the seed, whatever ran before
    models = ctx.eval_models
    model = build_action_model(
        models.ft_arch, len(data.action.classes), models.ft_init, ctx.cache_dir
    )
    model = train_action_model(ctx, model, action.train, action.val, "fT' (action eval)")
    return action_top1(model, action.test, ctx)


def fresh_privacy_model(privacy: PrivacyData, ctx: RunContext) -> AttributeClassifier:
    """An untrained fB' of the run's architecture and initialisation, drawn from the seed
    (so fB' does not depend on how long fT' trained)."""
    seed_everything(ctx.seed)
    models = ctx.eval_models
    return AttributeClassifier(
        models.fb_arch, len(privacy.attributes), models.fb_init, ctx.cache_dir
    )


def record_ap(ctx: RunContext, key: str, privacy: PrivacyData, aps: list[float]) -> None:
    """AP per test attribute into the record's `details[key]` (attributes with no positive
    in the test set have none and are left out, as in cMAP)."""
    names = privacy.test_attributes or privacy.attributes
    ctx.detail(key, {n: ap for n, ap in zip(names, aps, strict=True) if ap == ap})


def evaluate_privacy(data: Benchmark, private: Splits, ctx: RunContext) -> dict[str, Any]:
    """Train a fresh fB' on the given (anonymized) private splits; test cMAP and F1."""
    fresh = fresh_privacy_model(data.privacy, ctx)
    model = train_privacy_model(ctx, fresh, private.train, private.val, "fB' (privacy eval)")
    scores = privacy_scores(model, private.test, ctx, data.privacy.test_groups)
    record_ap(ctx, "privacy_ap", data.privacy, scores["ap"])
    return scores


def pretrained_attack(method: Method, privacy: PrivacyData, ctx: RunContext) -> dict[str, float]:
    """fB' trained and selected on raw images, then scored on raw and on fA*(test)."""
    splits = privacy.splits
    fresh = fresh_privacy_model(privacy, ctx)
    model = train_privacy_model(ctx, fresh, splits.train, splits.val, "fB' (raw, attacker)")
    test: ImageArray = anonymize_images(method, splits.test, ctx, name="images-test")
    raw = privacy_scores(model, splits.test, ctx, privacy.test_groups)
    attacked = privacy_scores(model, test, ctx, privacy.test_groups)
    record_ap(ctx, "privacy_ap", privacy, attacked["ap"])
    record_ap(ctx, "raw_privacy_ap", privacy, raw["ap"])
    return {
        "privacy_cmap": attacked["cmap"],
        "privacy_f1": attacked["f1"],
        "raw_privacy_cmap": raw["cmap"],
        "raw_privacy_f1": raw["f1"],
    }


def evaluate_on(method: Method, data: Benchmark, ctx: RunContext) -> dict[str, float]:
    """Anonymize every split of `data`, then train and score fresh fT' and fB' on it."""
    with ctx.stage("anonymize"):
        action = anonymized_splits(method, data.action.splits, ctx, videos=True)
        private = anonymized_splits(method, data.privacy.splits, ctx, videos=False)
    with ctx.stage("utility_eval"):
        top1 = evaluate_utility(data, action, ctx)
    with ctx.stage("privacy_eval"):
        privacy = evaluate_privacy(data, private, ctx)
    return {"action_top1": top1, "privacy_cmap": privacy["cmap"], "privacy_f1": privacy["f1"]}
