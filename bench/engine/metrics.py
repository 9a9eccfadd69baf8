"""Evaluation metrics: video-level top-1, class-mean average precision, macro F1."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score


def video_top1(clip_probs: np.ndarray, video_ids: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy after averaging clip softmax scores per video.

    clip_probs: (n_clips, n_classes); video_ids: (n_clips,) index into labels (n_videos,).
    """
    n_videos = labels.shape[0]
    sums = np.zeros((n_videos, clip_probs.shape[1]))
    np.add.at(sums, video_ids, clip_probs)
    seen = np.bincount(video_ids, minlength=n_videos) > 0
    return float((sums.argmax(1) == labels)[seen].mean())


def class_mean_ap(scores: np.ndarray, targets: np.ndarray) -> float:
    """cMAP: mean over attributes of average precision; attributes with no positive are skipped."""
    aps = [
        average_precision_score(targets[:, a], scores[:, a])
        for a in range(targets.shape[1])
        if targets[:, a].any()
    ]
    return float(np.mean(aps)) if aps else float("nan")


def macro_f1(probs: np.ndarray, targets: np.ndarray, threshold: float = 0.5) -> float:
    """Macro F1 over attributes with predictions `probs >= threshold`."""
    preds = (probs >= threshold).astype(int)
    return float(f1_score(targets.astype(int), preds, average="macro", zero_division=0))
