"""Evaluation metrics: video-level top-1, class-mean average precision, macro F1.

One definition each, used by every protocol (docs/differences.md compares them with the official
code's):
* top-1: clip softmax scores averaged per video, argmax against the label.
* cMAP: the mean over attributes of average precision, ranking the classifier's *logits*
  (float32 sigmoids tie at 1.0 above a logit of about 16.6 and would lower a confident
  model's AP). Attributes with no positive in the scored set have no AP and are left out of
  the mean (the official code counts them as AP 0).
* macro F1: per attribute, F1 of `logit > 0` (sigmoid > 0.5) against the targets, averaged
  over the same attributes as cMAP (the official code thresholds the logit at 0.5).
Non-finite scores are an error: a diverged model must not produce a number.
"""

from __future__ import annotations

import numpy as np

from bench.contract.errors import BenchError


def require_finite(scores: np.ndarray, what: str) -> None:
    """Fail when `scores` hold NaN or infinity (a diverged model)."""
    if not np.isfinite(scores).all():
        bad = int((~np.isfinite(scores)).any(axis=-1).sum()) if scores.ndim else 1
        raise BenchError(
            f"{what}: {bad} of {len(scores)} outputs are NaN or infinite; the model diverged "
            "(lower its learning rate, or check the method's output)"
        )


def video_top1(clip_probs: np.ndarray, video_ids: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy after averaging clip softmax scores per video.

    clip_probs: (n_clips, n_classes); video_ids: (n_clips,) index into labels (n_videos,).
    """
    require_finite(clip_probs, "action scores")
    n_videos = labels.shape[0]
    sums = np.zeros((n_videos, clip_probs.shape[1]))
    np.add.at(sums, video_ids, clip_probs)
    seen = np.bincount(video_ids, minlength=n_videos) > 0
    return float((sums.argmax(1) == labels)[seen].mean())


def attribute_ap(logits: np.ndarray, targets: np.ndarray) -> list[float]:
    """Average precision of each attribute (NaN where the set has no positive)."""
    from sklearn.metrics import average_precision_score  # here: 2 s of every CLI start

    require_finite(logits, "attribute scores")
    return [
        float(average_precision_score(targets[:, a], logits[:, a]))
        if targets[:, a].any()
        else float("nan")
        for a in range(targets.shape[1])
    ]


def class_mean_ap(logits: np.ndarray, targets: np.ndarray) -> float:
    """cMAP: mean AP over the attributes that have a positive (NaN when none has)."""
    aps = [ap for ap in attribute_ap(logits, targets) if not np.isnan(ap)]
    return float(np.mean(aps)) if aps else float("nan")


def macro_f1(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean over attributes with a positive of F1 at `logit > 0` (sigmoid > 0.5)."""
    require_finite(logits, "attribute scores")
    preds, truth = logits > 0, targets > 0.5
    scores = []
    for a in range(targets.shape[1]):
        if not truth[:, a].any():
            continue
        tp = int((preds[:, a] & truth[:, a]).sum())
        wrong = int((preds[:, a] ^ truth[:, a]).sum())
        scores.append(2 * tp / (2 * tp + wrong))
    return float(np.mean(scores)) if scores else float("nan")
