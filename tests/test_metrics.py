import numpy as np
import pytest

from bench.contract.errors import BenchError
from bench.training.metrics import attribute_ap, class_mean_ap, macro_f1, video_top1


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


def test_macro_f1_thresholds_logits_at_zero() -> None:
    # attribute 0: preds [1,0,1] vs [1,0,0] -> P=1/2 R=1 F1=2/3
    # attribute 1: preds [0,0,0] vs [0,1,0] -> F1=0
    logits = np.array([[0.1, -1.0], [-0.1, -0.2], [2.0, -3.0]])
    targets = np.array([[1, 0], [0, 1], [0, 0]])
    assert macro_f1(logits, targets) == pytest.approx((2 / 3 + 0.0) / 2)


def test_macro_f1_of_one_attribute_is_that_attributes_f1() -> None:
    """Not sklearn's binary mode, which would average in the negative class."""
    logits = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    targets = np.array([[1], [0], [0], [0]])
    assert macro_f1(logits, targets) == pytest.approx(2 / 3)


def test_macro_f1_skips_attributes_without_positives_as_cmap_does() -> None:
    logits = np.array([[1.0, 1.0], [-1.0, 1.0]])
    targets = np.array([[1, 0], [0, 0]])
    assert macro_f1(logits, targets) == pytest.approx(1.0)


def test_confident_logits_do_not_tie() -> None:
    """float32 sigmoids of 17 and 30 are both 1.0; ranking logits keeps their order."""
    logits = np.array([[30.0], [17.0], [16.9]], dtype=np.float32)
    targets = np.array([[1], [0], [1]])
    assert class_mean_ap(logits, targets) == pytest.approx((1 + 2 / 3) / 2)
    assert attribute_ap(logits, np.array([[0], [0], [0]])) == [
        pytest.approx(float("nan"), nan_ok=True)
    ]


@pytest.mark.parametrize("metric", [class_mean_ap, macro_f1])
def test_non_finite_scores_are_an_error(metric) -> None:
    with pytest.raises(BenchError, match="NaN or infinite"):
        metric(np.array([[np.nan], [1.0]]), np.array([[1], [0]]))


def test_a_nan_clip_score_is_an_error_not_class_zero() -> None:
    with pytest.raises(BenchError, match="diverged"):
        video_top1(np.array([[np.nan, np.nan], [0.2, 0.8]]), np.array([0, 1]), np.array([0, 1]))
