"""The paper's metrics: classification by text matching, mAP, COCO caption metrics, QA accuracy, and
bootstrap confidence intervals over items.

- Classification (the LTU/GAMA protocol): a generated answer is embedded with the text encoder and
  assigned the class name it is most similar to; accuracy over clips; mAP over classes for multi-label.
- Captioning: pycocoevalcap (PTB tokenizer, BLEU-1..4, METEOR, ROUGE-L, CIDEr-D). SPICE and SPIDEr need
  Stanford CoreNLP 3.6.0 jars that cannot be fetched here: set MATS_CORENLP_DIR to a folder holding
  ``stanford-corenlp-3.6.0.jar`` and ``stanford-corenlp-3.6.0-models.jar``; otherwise both are reported
  as "unavailable" (never as 0).
- QA: exact match after normalisation (case, punctuation, articles, number words), also counting an
  answer the prediction starts with ("yes, there is" answers "yes").
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np

UNAVAILABLE = "unavailable"
NUMBERS = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
           "eight": "8", "nine": "9", "ten": "10"}


def postprocess(text: str) -> str:
    """The model's answer: first line, whitespace and wrapping quotes stripped."""
    text = text.strip().split("\n")[0].strip()
    return text.strip('"').strip()


# ---------------------------------------------------------------------------------------- classification
def match_to_classes(predictions: list[str], class_names: list[str], encoder) -> np.ndarray:
    """[n] predicted texts -> [n, c] cosine similarities to the class names (encoder text embeddings)."""
    texts = [p if p.strip() else "silence" for p in predictions]  # an empty answer still gets a score row
    return encoder.embed_text(texts) @ encoder.embed_text(class_names).T


def accuracy_items(predictions: list[str], references: list[str], class_names: list[str], encoder,
                   alternatives: list[list[str] | None] | None = None) -> np.ndarray:
    """Per-item 0/1 correctness of text-matched classification; ``alternatives[i]`` (when given) lists every
    label item i accepts (a clip with several events), else only ``references[i]``."""
    index = {name: i for i, name in enumerate(class_names)}
    accepted = [alt or [r] for r, alt in zip(references, alternatives or [None] * len(references))]
    missing = sorted({l for labels in accepted for l in labels if l not in index})
    if missing:
        raise ValueError(f"reference label(s) not among the class names: {missing[:5]}")
    chosen = match_to_classes(predictions, class_names, encoder).argmax(1)
    return np.array([float(c in {index[l] for l in labels}) for c, labels in zip(chosen, accepted)])


def exact_match_items(predictions: list[str], references: list[str]) -> np.ndarray:
    """Per-item 0/1: the answer is the reference label itself (case, punctuation and articles aside)."""
    return np.array([float(normalize_answer(p) == normalize_answer(r)) for p, r in zip(predictions, references)])


def balanced_accuracy(correct: np.ndarray, references: list[str]) -> float:
    """Macro recall: the mean over the classes present among the references of the share of their items
    answered correctly. A constant answer scores exactly 1 / (number of classes present)."""
    correct = np.asarray(correct, dtype=float)
    refs = np.asarray(references)
    return float(np.mean([correct[refs == c].mean() for c in np.unique(refs)]))


def class_baselines(references: list[str], class_names: list[str]) -> dict:
    """What a model that does not listen scores on these items: chance (a uniform guess over the label set,
    for accuracy), the balanced chance (any constant answer, for balanced accuracy) and the majority-class
    rate (the best constant answer, for accuracy); label sets whose majority class exceeds 50% are flagged."""
    values, counts = np.unique(np.asarray(references), return_counts=True)
    majority = float(counts.max() / counts.sum())
    return {"chance": 1 / len(class_names), "balanced_chance": 1 / len(values), "majority_rate": majority,
            "majority_label": str(values[counts.argmax()]), "classes_present": int(len(values)),
            "majority_over_half": bool(majority > 0.5)}


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Macro mAP over classes with at least one positive: scores and 0/1 targets are [n, c]."""
    from sklearn.metrics import average_precision_score

    keep = targets.sum(0) > 0
    return float(average_precision_score(targets[:, keep], scores[:, keep], average="macro"))


# ---------------------------------------------------------------------------------------- QA
def normalize_answer(text: str) -> str:
    text = re.sub(r"[^a-z0-9 ]", " ", text.lower())
    words = [NUMBERS.get(w, w) for w in text.split() if w not in ("a", "an", "the")]
    return " ".join(words)


def qa_items(predictions: list[str], references: list[str]) -> np.ndarray:
    out = []
    for pred, ref in zip(predictions, references):
        p, r = normalize_answer(pred).split(), normalize_answer(ref).split()
        out.append(float(bool(r) and p[: len(r)] == r))
    return np.array(out)


# ---------------------------------------------------------------------------------------- captions
def _spice_ready() -> bool:
    import pycocoevalcap.spice as spice_package  # the top package is a namespace package without __file__

    lib = Path(spice_package.__file__).parent / "lib"
    jars = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
    source = os.environ.get("MATS_CORENLP_DIR")
    if source and not all((lib / j).exists() for j in jars):
        for jar in jars:
            if (Path(source) / jar).exists():
                shutil.copy(Path(source) / jar, lib / jar)
    return all((lib / j).exists() for j in jars)


CAPTION_METRICS = ("BLEU", "METEOR", "ROUGE-L", "CIDEr-D", "SPICE")


def caption_metrics(predictions: list[str], references: list[list[str]],
                    metrics: tuple[str, ...] = CAPTION_METRICS) -> tuple[dict, dict[str, np.ndarray]]:
    """(corpus scores, per-item scores) for BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (and SPICE, SPIDEr if ready)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: [{"caption": r} for r in refs] for i, refs in enumerate(references)})
    res = tokenizer.tokenize({i: [{"caption": p if p.strip() else "."}] for i, p in enumerate(predictions)})
    corpus, items = {}, {}
    if "BLEU" in metrics:
        bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
        for n in range(4):
            corpus[f"BLEU-{n + 1}"], items[f"BLEU-{n + 1}"] = float(bleu[n]), np.array(bleu_items[n])
    for name, scorer in (("METEOR", Meteor), ("ROUGE-L", Rouge), ("CIDEr-D", Cider)):
        if name in metrics:
            score, per_item = scorer().compute_score(gts, res)
            corpus[name], items[name] = float(score), np.asarray(per_item, dtype=float)
    if "SPICE" not in metrics:
        return corpus, items
    if _spice_ready():
        from pycocoevalcap.spice.spice import Spice

        score, per_item = Spice().compute_score(gts, res)
        corpus["SPICE"] = float(score)
        items["SPICE"] = np.array([float(x["All"]["f"]) for x in per_item])
        corpus["SPIDEr"] = (corpus["SPICE"] + corpus["CIDEr-D"]) / 2
        items["SPIDEr"] = (items["SPICE"] + items["CIDEr-D"]) / 2
    else:
        corpus["SPICE"] = corpus["SPIDEr"] = UNAVAILABLE
    return corpus, items


# ---------------------------------------------------------------------------------------- uncertainty
def bootstrap_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap over items of the mean of per-item scores."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(1)
    tail = (1 - level) / 2 * 100
    return float(values.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))
