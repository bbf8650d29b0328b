"""Metrics on known examples, one cross-checked by hand."""
import numpy as np
import pytest

from mats_lib.encoders import create_encoder
from mats_lib.metrics import (UNAVAILABLE, accuracy_items, bootstrap_ci, caption_metrics, mean_average_precision,
                              normalize_answer, postprocess, qa_items)


def test_qa_normalisation_and_accuracy():
    assert normalize_answer("The Three.") == "3"
    assert qa_items(["Yes, there is.", "two", "no", "A cow"], ["yes", "2", "yes", "cow"]).tolist() == [1, 1, 0, 1]


def test_postprocess():
    assert postprocess('  "A dog barks."\nASSISTANT: more') == "A dog barks."


def test_text_matched_classification(tmp_cache):
    enc = create_encoder("tagclap")
    classes = ["dog", "rain", "church bell"]
    items = accuracy_items(["a dog is barking", "heavy rainfall", "a dog"], ["dog", "rain", "church bell"], classes, enc)
    assert items.tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="not among the class names"):
        accuracy_items(["x"], ["cat"], classes, enc)


def test_map_hand_checked():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.1, 0.6]])
    targets = np.array([[1, 0], [0, 1], [1, 1]])
    # class 0: ranking 0.9(+), 0.8(-), 0.1(+) -> AP = (1/1 + 2/3) / 2; class 1: 0.7(+), 0.6(+), 0.1(-) -> AP = 1
    assert mean_average_precision(scores, targets) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_bleu1_hand_computed():
    """BLEU-1 of 'a dog barks loudly' against 'a dog barks': precision 3/4, no brevity penalty -> 0.75."""
    corpus, items = caption_metrics(["a dog barks loudly"], [["a dog barks"]], metrics=("BLEU", "SPICE"))
    assert corpus["BLEU-1"] == pytest.approx(0.75, abs=1e-6)
    assert corpus["SPICE"] == UNAVAILABLE and corpus["SPIDEr"] == UNAVAILABLE  # no CoreNLP jars here


def test_identical_captions_score_higher():
    refs = [["a dog barks"], ["rain falls on a roof"], ["a bell rings twice"]]
    fast = ("ROUGE-L", "CIDEr-D")
    good, _ = caption_metrics(["a dog barks", "rain falls on a roof", "a bell rings twice"], refs, fast)
    bad, _ = caption_metrics(["a bell rings twice", "a dog barks", "rain falls on a roof"], refs, fast)
    assert good["CIDEr-D"] > bad["CIDEr-D"] and good["ROUGE-L"] == pytest.approx(1.0)


def test_bootstrap_interval():
    mean, lo, hi = bootstrap_ci(np.array([0, 1] * 50), seed=0)
    assert mean == 0.5 and lo < 0.5 < hi and hi - lo < 0.25
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0, 1.0)
