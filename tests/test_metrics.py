import numpy as np
import pytest

from bench.engine.metrics import class_mean_ap, macro_f1, video_top1


def test_video_top1_averages_clip_softmax_per_video() -> None:
    # video 0 (label 1): clips disagree, average favours class 1 (0.45+0.9 > 0.55+0.1)
    # video 1 (label 0): both clips say class 1 -> wrong
    probs = np.array([[0.55, 0.45], [0.1, 0.9], [0.4, 0.6], [0.3, 0.7]])
    vids = np.array([0, 0, 1, 1])
    labels = np.array([1, 0])
    assert video_top1(probs, vids, labels) == pytest.approx(0.5)


def test_class_mean_ap_matches_hand_computation() -> None:
    # attribute 0: ranking pos, neg, pos -> AP = (1/1 + 2/3) / 2 = 0.8333
    # attribute 1: ranking pos first, perfect -> AP = 1.0
    scores = np.array([[0.9, 0.8], [0.8, 0.1], [0.7, 0.2]])
    targets = np.array([[1, 1], [0, 0], [1, 0]])
    assert class_mean_ap(scores, targets) == pytest.approx((5 / 6 + 1.0) / 2)


def test_class_mean_ap_skips_attributes_without_positives() -> None:
    scores = np.array([[0.9, 0.3], [0.1, 0.4]])
    targets = np.array([[1, 0], [0, 0]])
    assert class_mean_ap(scores, targets) == pytest.approx(1.0)


def test_macro_f1_thresholds_at_half() -> None:
    # attribute 0: preds [1,0,1] vs [1,0,0] -> P=1/2 R=1 F1=2/3
    # attribute 1: preds [0,0,0] vs [0,1,0] -> F1=0
    probs = np.array([[0.5, 0.2], [0.49, 0.4], [0.8, 0.1]])
    targets = np.array([[1, 0], [0, 1], [0, 0]])
    assert macro_f1(probs, targets) == pytest.approx((2 / 3 + 0.0) / 2)
