"""What a model scores without listening: the floors every score is read against.

- Classification: any constant answer (balanced chance, exactly 1 / classes present in balanced accuracy),
  the majority class (the best constant answer in accuracy) and a uniform guess (chance). See
  ``metrics.class_baselines``; :func:`constant_answer_items` gives the majority answer's per-item scores.
- QA: the question-only prior: per question type, the most frequent answer of the audio-train scenes.
- Captions: the single constant caption of the training corpus that scores best (CIDEr-D) against the
  corpus's own captions, then scored on the eval references.
"""
from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np

from .metrics import caption_metrics, qa_items
from .paths import cache_dir
from .code_keys import code_key
from .provenance import settings_key, write_json_atomic


def constant_answer_items(labels: list[str]) -> np.ndarray:
    """Per-item 0/1 scores of always answering the majority class of these items."""
    values, counts = np.unique(np.asarray(labels), return_counts=True)
    majority = values[counts.argmax()]
    return (np.asarray(labels) == majority).astype(float)


def question_type(question: str | None) -> str:
    """The template of a question: yes/no questions about any sound share one type; the rest are fixed texts."""
    question = (question or "").strip()
    if re.match(r"(?i)^is there\b", question):
        return "is there <sound>?"
    return question.lower()


def fit_question_prior(train_records: list[dict]) -> dict[str, str]:
    """{question type: most frequent answer} over the training QA records (ties: the alphabetically first)."""
    answers: dict[str, Counter] = {}
    for record in train_records:
        answers.setdefault(question_type(record.get("instruction")), Counter())[record["output"]] += 1
    return {qtype: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for qtype, c in answers.items()}


def question_prior_items(records: list[dict], prior: dict[str, str]) -> np.ndarray:
    """Per-item QA accuracy of answering each question with its type's prior answer ('' for unseen types)."""
    guesses = [prior.get(question_type(r.get("instruction")), "") for r in records]
    return qa_items(guesses, [r["output"] for r in records])


def best_constant_caption(corpus_captions: list[str], *, candidates: int = 150, references: int = 400,
                          seed: int = 0) -> str:
    """The caption, among ``candidates`` seeded draws of the corpus, whose CIDEr-D against ``references``
    other seeded corpus captions is highest: a floor chosen without the eval data. Cached by its inputs."""
    texts = sorted(set(corpus_captions))
    key = settings_key({"texts": settings_key(texts), "candidates": candidates, "references": references,
                        "seed": seed, "code": code_key("baselines")})
    path = cache_dir() / f"constant-caption-{key}.json"
    if path.exists():
        return json.loads(path.read_text())["caption"]
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    pool = [texts[i] for i in order[:candidates]]
    refs = [texts[i] for i in order[candidates : candidates + references]]
    # one PTB tokenisation (a Java call) for all, then CIDEr-D per candidate on the tokenised texts
    tokens = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(pool + refs)})
    gts = {j: tokens[len(pool) + j] for j in range(len(refs))}
    scores = [Cider().compute_score(gts, {j: tokens[c] for j in range(len(refs))})[0] for c in range(len(pool))]
    best = pool[int(np.argmax(scores))]
    write_json_atomic(path, {"caption": best, "cider_d_on_corpus": max(scores), "key": key})
    return best


def constant_caption_items(caption: str, references: list[str]) -> np.ndarray:
    """Per-item CIDEr-D of one constant caption against each eval reference."""
    return caption_metrics([caption] * len(references), [[r] for r in references], ("CIDEr-D",))[1]["CIDEr-D"]
