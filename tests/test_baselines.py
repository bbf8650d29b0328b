"""The floors every score is read against."""
import numpy as np
import pytest

from mats_lib.baselines import (best_constant_caption, constant_answer_items, constant_caption_items, fit_question_prior,
                                question_prior_items, question_type)
from mats_lib.metrics import balanced_accuracy, class_baselines, exact_match_items


def test_class_baselines_flag_a_dominant_class():
    refs = ["woman speaking"] * 8 + ["man speaking", "whisper"]
    b = class_baselines(refs, ["woman speaking", "man speaking", "whisper"])
    assert b["chance"] == pytest.approx(1 / 3) and b["balanced_chance"] == pytest.approx(1 / 3)
    assert b["majority_rate"] == 0.8 and b["majority_label"] == "woman speaking" and b["majority_over_half"]
    items = constant_answer_items(refs)
    assert items.mean() == 0.8 and balanced_accuracy(items, refs) == pytest.approx(1 / 3)


def test_question_prior_per_type():
    train = [{"instruction": "How many different sounds are there?", "output": "two"},
             {"instruction": "How many different sounds are there?", "output": "two"},
             {"instruction": "How many different sounds are there?", "output": "one"},
             {"instruction": "Is there a dog in the recording?", "output": "yes"},
             {"instruction": "Is there a bell in the recording?", "output": "yes"},
             {"instruction": "Is there a cat in the recording?", "output": "no"}]
    prior = fit_question_prior(train)
    assert prior == {"how many different sounds are there?": "two", "is there <sound>?": "yes"}
    assert question_type("Is there an owl in the recording?") == "is there <sound>?"
    test = [{"instruction": "Is there an owl in the recording?", "output": "yes"},
            {"instruction": "How many different sounds are there?", "output": "three"},
            {"instruction": "Which animal is heard?", "output": "dog"}]  # a type never seen: no answer
    assert question_prior_items(test, prior).tolist() == [1.0, 0.0, 0.0]


def test_constant_caption_is_chosen_on_the_corpus(tmp_cache):
    corpus = [f"A dog barks {w}." for w in ("loudly", "twice", "nearby", "outside")] + \
             ["Rain falls on a roof.", "A car passes by.", "Birds sing in the morning."] * 3
    caption = best_constant_caption(corpus, candidates=4, references=6, seed=0)
    assert caption in corpus
    assert best_constant_caption(corpus, candidates=4, references=6, seed=0) == caption  # cached, same answer
    items = constant_caption_items(caption, ["A dog barks loudly.", "Thunder rumbles."])
    assert items.shape == (2,) and np.isfinite(items).all()


def test_exact_match_is_beside_the_scorer():
    assert exact_match_items(["The dog", "a cat meowing"], ["dog", "cat"]).tolist() == [1.0, 0.0]
