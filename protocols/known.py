"""Known actions and attributes (paper Table 1, section 4.3.1).

fA* is learned on the action train split (and, for supervised methods, the private train
split). Then, with fA* frozen:
* utility: a fresh fT' is trained on fA*(action train), the epoch with the best val top-1 is
  kept, and it is scored on fA*(action test) as video-level top-1 (softmax averaged over
  `eval_clips` evenly spaced clips per video);
* privacy: a fresh fB' is trained on fA*(private train) with multi-label BCE, the epoch with
  the best val cMAP is kept, and it is scored on fA*(private test) as cMAP and macro F1 at
  sigmoid >= 0.5.
The test splits are only ever scored.
"""

from __future__ import annotations

from bench.data import Benchmark, DatasetFamily, Splits
from bench.method import Method, anonymize_images, anonymize_videos
from bench.models.action import build_action_model
from bench.models.privacy import AttributeClassifier
from bench.protocol import PROTOCOLS, Protocol
from bench.runtime import RunContext
from bench.training import action_top1, privacy_scores, train_action_model, train_privacy_model


def anonymized_splits(method: Method, splits: Splits, ctx: RunContext, videos: bool) -> Splits:
    """train / val / test passed through the method."""
    apply = anonymize_videos if videos else anonymize_images
    kind = "videos" if videos else "images"
    return Splits(
        *(
            apply(method, getattr(splits, name), ctx, name=f"{kind}-{name}")
            for name in ("train", "val", "test")
        )
    )


def evaluate_utility(data: Benchmark, action: Splits, ctx: RunContext) -> float:
    """Train a fresh fT' on the given (anonymized) action splits; test top-1."""
    model = build_action_model(ctx.preset.ft_arch, len(data.action.classes))
    model = train_action_model(ctx, model, action.train, action.val, "fT' (action eval)")
    return action_top1(model, action.test, ctx)


def evaluate_privacy(data: Benchmark, private: Splits, ctx: RunContext) -> dict[str, float]:
    """Train a fresh fB' on the given (anonymized) private splits; test cMAP and F1."""
    fresh = AttributeClassifier(ctx.preset.fb_arch, len(data.privacy.attributes))
    model = train_privacy_model(ctx, fresh, private.train, private.val, "fB' (privacy eval)")
    return privacy_scores(model, private.test, ctx, data.privacy.test_groups)


@PROTOCOLS.register("known")
class Known(Protocol):
    """Train fA* and evaluate fT' / fB' on the same action and private sets (Table 1)."""

    description = "fA* learned and evaluated on the same action + private sets (Table 1)"

    def run(self, method: Method, dataset: DatasetFamily, ctx: RunContext) -> dict[str, float]:
        """Fit the method, anonymize every split, train and score fT' and fB'."""
        with ctx.stage("data"):
            data = dataset.load("known", ctx)
        with ctx.stage("fit"):
            method.fit(data, ctx)
        with ctx.stage("anonymize"):
            action = anonymized_splits(method, data.action.splits, ctx, videos=True)
            private = anonymized_splits(method, data.privacy.splits, ctx, videos=False)
        with ctx.stage("utility_eval"):
            top1 = evaluate_utility(data, action, ctx)
        with ctx.stage("privacy_eval"):
            privacy = evaluate_privacy(data, private, ctx)
        return {"action_top1": top1, "privacy_cmap": privacy["cmap"], "privacy_f1": privacy["f1"]}
