"""MiniCLAP's out-of-domain gate: heads must not make audio from an unseen source worse than tagclap hears it.

Leave one source out: heads trained without any clip of source S (nor a mixture holding one) classify every
clip of S zero-shot within its own label set, beside tagclap (w = 0) on the same clips. With ten clips in a
source one clip is 0.1 of balanced accuracy, so a point threshold cannot decide; the gate has two parts:

1. pooled over every held-out clip (each clip once, all sources together), the paired change in balanced
   accuracy (macro recall over the held-out labels), candidate minus tagclap, with a seeded 95% bootstrap
   interval over clips (``mats_lib.stats``): the interval must not lie wholly below 0;
2. no single source may lose more than ``MAX_NET_LOSS`` of its clips net (clips tagclap got right and the
   candidate wrong, minus the reverse): 2 of 10 pass, 3 of 10 do not.

The same gate guards the selection of the defaults (on the audio-train clips of each source,
``training.select_defaults``) and is reported on the eval side (``frontier``, ``study``).
"""
from __future__ import annotations

import numpy as np

from ...stats import TaskScores, paired_difference
from .encoder import embed_features, embed_unit_text
from ...prompts import zero_shot_prompt

MAX_NET_LOSS = 0.20
RESAMPLES = 1000
RULE = (f"leave-one-source-out: the 95% paired bootstrap interval ({RESAMPLES} resamples over clips) of the pooled "
        f"change in balanced accuracy against tagclap does not lie wholly below 0, and no source loses more than "
        f"{MAX_NET_LOSS:.0%} of its clips net")


def zero_shot(heads, text, feats, labels, candidates, w, sigma=None) -> np.ndarray:
    """[n] bool: clip i's best candidate label (by its "the sound of <label>" prompt) is its own label."""
    audio = embed_features(heads, feats, w, sigma)
    prompts = embed_unit_text(heads, text([zero_shot_prompt(c) for c in candidates]), w)
    return np.asarray(candidates)[(audio @ prompts.T).argmax(1)] == np.asarray(labels)


def within_label_set(heads, text, clips, items, label_sets, w, sigma=None) -> np.ndarray:
    """[n] bool: zero-shot correctness of each clip among the labels of its own label set."""
    correct = np.zeros(len(clips), bool)
    for name, candidates in label_sets.items():
        idx = [i for i, c in enumerate(clips) if c["label_set"] == name]
        if idx:
            correct[idx] = zero_shot(heads, text, items.features[idx], [clips[i]["label"] for i in idx], candidates, w,
                                    sigma)
    return correct


def balanced(correct: np.ndarray, labels: list[str]) -> float:
    """Macro recall: the mean over labels of the share of their clips classified right."""
    labels = np.asarray(labels)
    return float(np.mean([correct[labels == l].mean() for l in np.unique(labels)]))


def loso_gate(candidate: dict[str, np.ndarray], reference: dict[str, np.ndarray], labels: dict[str, list[str]],
              seed: int = 0) -> dict:
    """The two-part gate. ``candidate``/``reference``: per held-out source, [clips] bool correctness of the
    setting and of tagclap on the same clips; ``labels``: those clips' labels."""
    sources = sorted(candidate)
    if not sources:
        raise ValueError("the gate needs at least one held-out source")
    for s in sources:
        if not len(candidate[s]) == len(reference[s]) == len(labels[s]):
            raise ValueError(f"{s}: candidate, reference and labels cover different clips")
    pooled_labels = [f"{s}/{l}" for s in sources for l in labels[s]]  # a label is its source's

    def scores(correct):
        return {"loso": TaskScores(np.concatenate([correct[s] for s in sources]).astype(float)[None], pooled_labels)}

    delta = paired_difference(scores(candidate), scores(reference), resamples=RESAMPLES, seed=seed)
    per_source = {}
    for s in sources:
        lost = int((reference[s] & ~candidate[s]).sum())
        gained = int((~reference[s] & candidate[s]).sum())
        net = (lost - gained) / len(candidate[s])
        per_source[s] = {"clips": len(candidate[s]), "lost": lost, "gained": gained, "net_loss": net,
                         "balanced_delta": balanced(candidate[s], labels[s]) - balanced(reference[s], labels[s]),
                         "pass": bool(net <= MAX_NET_LOSS + 1e-9)}
    pooled_pass = not delta.high < 0
    sources_pass = all(v["pass"] for v in per_source.values())
    worst = max(sources, key=lambda s: per_source[s]["net_loss"])
    return {"pooled_delta": delta.as_dict(), "pooled_pass": pooled_pass, "sources": per_source,
            "sources_pass": sources_pass, "worst_source": worst, "worst_net_loss": per_source[worst]["net_loss"],
            "pass": bool(pooled_pass and sources_pass)}


def describe(gate: dict) -> str:
    """'pass: +0.012 [-0.020, +0.045]; worst animals 1/10 net' (one line for tables and logs)."""
    d = gate["pooled_delta"]
    worst = gate["sources"][gate["worst_source"]]
    return (f"{'pass' if gate['pass'] else 'FAIL'}: pooled {d['value']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]; "
            f"worst {gate['worst_source']} {worst['lost'] - worst['gained']}/{worst['clips']} net")
