"""Train MiniCLAP's heads and choose their defaults (steps, w, gate sigma) on the audio-train split only.

    python -m mats_lib.cli.miniclap_heads --seed 0   # `make miniclap`; writes build/miniclap/heads-seed0.*

The guarded rule (fixed here; it never reads the eval split):

1. **Score.** Deal the labels of the audio-train clips into ``groups`` groups; for each group k train on the
   other groups' clips and mixtures and validate on group k's (labels never seen in that fit). The score of
   (steps, w, sigma) is the mean over folds of (zero-shot accuracy of the held-out clips among the held-out
   labels + audio->text R@5 among the held-out mixtures) / 2.
2. **Guard.** For every source with at least ``guard_min_clips`` (5) audio-train clips, heads trained without
   that source classify its audio-train clips within their label sets; the setting must pass the
   out-of-domain gate of ``gate.py`` against tagclap on those clips (paired interval pooled over the held-out
   clips, and no source losing more than 20% of its clips net).
3. **Choice.** Among the settings that pass the guard, the best score; settings within ``TIE`` of it count as
   ties, broken towards the lighter change to tagclap: fewer steps, then smaller w, then a narrower gate.
   The heads are then trained on the whole audio-train split for the chosen steps.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ...paths import data_dir
from ...provenance import git_revision
from ...encoder_metrics import recall_at_k
from ...seed import make_generators
from ..base import l2_normalize
from ..minilm import shared_minilm
from .encoder import FrozenTowers, default_heads_path, embed_features, embed_unit_text
from .gate import RULE as GATE_RULE
from .gate import loso_gate, within_label_set
from .heads import HeadsConfig, MiniClapHeads, contrastive_loss, save_heads
from ...prompts import zero_shot_prompt
from .pairs import AudioItems, label_groups, training_items

STEP_GRID = (0, 10, 20, 40, 80, 160, 320)
W_GRID = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
SIGMA_GRID = (0.05, 0.08, 0.12, 0.17, None)  # None: no gate (the heaviest change)
TIE = 0.005


def rule(settings: "TrainSettings") -> str:
    return ("guarded: best mean over class-disjoint folds of (held-out zero-shot accuracy + held-out mixture "
            f"audio->text R@5) / 2 among the settings passing the gate on the audio-train clips of every source with "
            f">= {settings.guard_min_clips} of them ({GATE_RULE}); scores within {TIE} tie, broken towards fewer "
            "steps, smaller w, then a narrower gate")


def settings_grid() -> list[tuple[float, float | None]]:
    """(w, sigma) pairs: the gate scales the heads' block, so it means nothing at w = 0 and needs w < 1."""
    return [(w, sigma) for w in W_GRID for sigma in SIGMA_GRID
            if sigma is None or 0.0 < w < 1.0]


def lightness(row: dict) -> tuple:
    """Sort key of the tie-break: fewer steps, smaller w, narrower gate (None, no gate, last)."""
    return row["steps"], row["w"], float("inf") if row["sigma"] is None else row["sigma"]


@dataclass
class TrainSettings:
    batch_size: int = 128
    """Pairs per InfoNCE batch (as in the probe)."""
    lr: float = 1e-3
    """AdamW learning rate (as in the probe)."""
    weight_decay: float = 0.01
    """AdamW weight decay [open]."""
    clip_repeats: int = 4
    """Each clip enters an epoch this many times (a fresh caption template each), mixtures once: ~130 clips
    would otherwise be ~6% of the ~2,100 pairs."""
    groups: int = 3
    """Class-disjoint label groups: folds of the selection; every mixture stays within one group."""
    mixtures_per_group: int = 700
    """Training mixtures per group (2,100 in all, ~100 s of YAMNet on one core)."""
    guard_min_clips: int = 5
    """The selection's guard holds out each source with at least this many audio-train clips (fewer cannot
    show a loss: the per-source cap is 20% of its clips)."""


class TextTable:
    """Unit MiniLM embeddings of every caption, computed once (tagclap's text embedding)."""

    def __init__(self, texts: list[str], batch_size: int = 256):
        self.index = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        order = list(self.index)
        rows = [l2_normalize(shared_minilm()(order[s : s + batch_size])) for s in range(0, len(order), batch_size)]
        self.matrix = np.concatenate(rows) if rows else np.zeros((0, 384), np.float32)

    def __call__(self, texts: list[str]) -> np.ndarray:
        return self.matrix[[self.index[t] for t in texts]]


def train_heads(items: AudioItems, text: TextTable, steps: int, seed: int, settings: TrainSettings = TrainSettings(),
                heads_config: HeadsConfig = HeadsConfig(), on_step=None) -> MiniClapHeads:
    """Train heads for ``steps`` batches; ``on_step(step, heads)`` sees them before each listed update (step 0 =
    untouched) and after the last. Deterministic in ``seed`` (one torch thread: identical bytes on any CPU)."""
    gens = make_generators(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(gens.child("init").seed)
            heads = MiniClapHeads(heads_config)
        features = torch.from_numpy(items.features)
        heads.set_feature_stats(features)
        keys = torch.tensor([{k: i for i, k in enumerate(dict.fromkeys(items.key))}[k] for k in items.key])
        captions = [[text.index[c] for c in caps] for caps in items.captions]
        table = torch.from_numpy(text.matrix)
        pool = torch.tensor([i for i in range(len(items)) for _ in range(settings.clip_repeats if items.kind[i] == "clip" else 1)])
        optimizer = torch.optim.AdamW(heads.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        order, cursor = torch.empty(0, dtype=torch.long), 0
        heads.train()
        for step in range(steps + 1):
            if on_step is not None:
                on_step(step, heads)
            if step == steps:
                break
            if cursor + settings.batch_size > len(order):  # a new epoch: a fresh permutation
                order, cursor = pool[torch.randperm(len(pool), generator=gens.torch)], 0
            batch = order[cursor : cursor + settings.batch_size]
            cursor += settings.batch_size
            draws = torch.randint(0, 1 << 30, (len(batch),), generator=gens.torch)
            text_rows = torch.tensor([captions[i][d % len(captions[i])] for i, d in zip(batch.tolist(), draws.tolist())])
            loss = contrastive_loss(heads.embed_audio(features[batch]), heads.embed_text(table[text_rows]), keys[batch],
                                    heads.scale())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return heads.eval()


def evaluate(heads: MiniClapHeads, text: TextTable, clips: AudioItems, candidates: list[str], mixtures: AudioItems | None,
             w: float, sigma: float | None = None) -> dict:
    """Zero-shot accuracy of ``clips`` among ``candidates`` (labels) and mixture retrieval, for one w (and gate
    width sigma, None: no gate)."""
    out = {}
    if len(clips):
        audio = embed_features(heads, clips.features, w, sigma)
        prompts = embed_unit_text(heads, text([zero_shot_prompt(c) for c in candidates]), w)
        predicted = np.asarray(candidates)[(audio @ prompts.T).argmax(1)]
        out["zero_shot"] = float(np.mean([p == l[0] for p, l in zip(predicted, clips.labels)]))
        out["predicted"] = predicted.tolist()
    if mixtures is not None and len(mixtures):
        audio = embed_features(heads, mixtures.features, w, sigma)
        captions = embed_unit_text(heads, text([c[0] for c in mixtures.captions]), w)
        for k in (1, 5):
            out[f"a2t_R@{k}"] = recall_at_k(audio, captions, k)
            out[f"t2a_R@{k}"] = recall_at_k(captions, audio, k)
    return out


def fold_scores(items: AudioItems, groups: dict[str, int], text: TextTable, seed: int,
                settings: TrainSettings) -> dict[tuple, list[float]]:
    """(steps, w, sigma) -> the score of each class-disjoint fold."""
    group_of = np.array([groups[labels[0]] for labels in items.labels])
    scores = {}
    for k in range(settings.groups):
        fit = items.subset(np.flatnonzero(group_of != k).tolist())
        held = items.subset(np.flatnonzero(group_of == k).tolist())
        clips = held.subset([i for i, kind in enumerate(held.kind) if kind == "clip"])
        mixtures = held.subset([i for i, kind in enumerate(held.kind) if kind == "mixture"])
        candidates = sorted({l[0] for l in clips.labels})

        def record(step, heads):
            if step in STEP_GRID:
                for w, sigma in settings_grid():
                    r = evaluate(heads, text, clips, candidates, mixtures, w, sigma)
                    scores.setdefault((step, w, sigma), []).append((r["zero_shot"] + r["a2t_R@5"]) / 2)

        train_heads(fit, text, max(STEP_GRID), seed=seed * 1000 + k, settings=settings, on_step=record)
    return scores


def guard_sources(items: AudioItems, min_clips: int) -> list[str]:
    """The sources with at least ``min_clips`` audio-train clips: the ones the guard holds out."""
    counts: dict[str, int] = {}
    for kind, sources in zip(items.kind, items.sources):
        if kind == "clip":
            counts[sources[0]] = counts.get(sources[0], 0) + 1
    return sorted(s for s, n in counts.items() if n >= min_clips)


def guard_correctness(items: AudioItems, clips_by_id: dict[str, dict], label_sets: dict[str, list[str]],
                      text: TextTable, seed: int, settings: TrainSettings) -> tuple[dict, dict]:
    """Leave each guard source out of the audio-train items: {(steps, w, sigma): {source: [clips] bool}} and
    {source: labels}, each source's audio-train clips classified within their label sets by heads that never
    heard that source."""
    correct, labels = {}, {}
    for j, source in enumerate(guard_sources(items, settings.guard_min_clips)):
        fit = items.subset([i for i, sources in enumerate(items.sources) if source not in sources])
        held = [i for i, (kind, sources) in enumerate(zip(items.kind, items.sources))
                if kind == "clip" and sources[0] == source]
        test, test_clips = items.subset(held), [clips_by_id[items.ids[i]] for i in held]
        labels[source] = [c["label"] for c in test_clips]

        def record(step, heads, test=test, test_clips=test_clips, source=source):
            if step in STEP_GRID:
                for w, sigma in settings_grid():
                    correct.setdefault((step, w, sigma), {})[source] = within_label_set(
                        heads, text, test_clips, test, label_sets, w, sigma)

        train_heads(fit, text, max(STEP_GRID), seed=seed * 1000 + 100 + j, settings=settings, on_step=record)
    return correct, labels


def select_defaults(items: AudioItems, groups: dict[str, int], text: TextTable, seed: int,
                    clips_by_id: dict[str, dict], label_sets: dict[str, list[str]],
                    settings: TrainSettings = TrainSettings()) -> dict:
    """The guarded rule of the module docstring; returns the table (score and gate of every setting) and the
    chosen (steps, w, sigma)."""
    scores = fold_scores(items, groups, text, seed, settings)
    correct, labels = guard_correctness(items, clips_by_id, label_sets, text, seed, settings)
    reference = correct[(0, 0.0, None)]  # w = 0 is tagclap, whatever the heads
    table = []
    for (steps, w, sigma), v in sorted(scores.items(), key=lambda kv: lightness(dict(zip(("steps", "w", "sigma"), kv[0])))):
        gate = loso_gate(correct[(steps, w, sigma)], reference, labels, seed=seed)
        table.append({"steps": steps, "w": w, "sigma": sigma, "score": float(np.mean(v)),
                      "folds": [round(x, 4) for x in v], "guard_pass": gate["pass"],
                      "guard_pooled_delta": gate["pooled_delta"]["value"], "guard_ci95": gate["pooled_delta"]["ci95"],
                      "guard_worst_source": gate["worst_source"], "guard_worst_net_loss": gate["worst_net_loss"]})
    passing = [r for r in table if r["guard_pass"]]  # never empty: w = 0 is tagclap and passes its own gate
    best = max(r["score"] for r in passing)
    chosen = min((r for r in passing if r["score"] >= best - TIE), key=lightness)
    unguarded = max(r["score"] for r in table)
    return {"table": table, "best_score": best, "best_score_unguarded": unguarded, "steps": chosen["steps"],
            "w": chosen["w"], "sigma": chosen["sigma"], "guard_sources": sorted(labels),
            "guard_clips": {s: len(v) for s, v in labels.items()}, "rule": rule(settings)}


def build_heads(seed: int = 0, out: Path | None = None, settings: TrainSettings = TrainSettings(),
                heads_config: HeadsConfig = HeadsConfig(), root: Path | None = None) -> Path:
    """Pairs -> fold search -> final heads on the whole audio-train split; returns the heads file."""
    root = Path(root or data_dir() / "miniaudio")
    out = Path(out or default_heads_path(seed))
    gens = make_generators(seed)
    clips = [c for c in json.loads((root / "clips.json").read_text()) if c["split"] == "train"]
    groups = label_groups([c["label"] for c in clips], settings.groups, gens.child("label-groups").numpy)
    towers = FrozenTowers(progress=False)  # the mixture chunks show their own progress
    items = training_items(root, clips, groups, settings.mixtures_per_group, gens, towers)
    label_sets = {k[4:]: v["labels"] for k, v in json.loads((root / "labels.json").read_text()).items()
                  if k.startswith("cls_")}
    text = TextTable([c for caps in items.captions for c in caps]
                     + [zero_shot_prompt(l) for ls in label_sets.values() for l in ls])
    selection = select_defaults(items, groups, text, seed, {c["clip_id"]: c for c in clips}, label_sets, settings)
    heads = train_heads(items, text, selection["steps"], seed=seed, settings=settings, heads_config=heads_config)
    meta = {"seed": seed, "steps": selection["steps"], "default_w": selection["w"], "default_sigma": selection["sigma"],
            "train_settings": asdict(settings),
            "selection": selection, "label_groups": groups,
            "pairs": {"clips": sum(k == "clip" for k in items.kind), "mixtures": sum(k == "mixture" for k in items.kind)},
            "train_clip_ids": sorted({m for ms in items.members for m in ms}),
            "code_revision": git_revision(), "torch": torch.__version__}
    save_heads(heads, out, meta)
    return out


if __name__ == "__main__":  # the command lives in mats_lib.cli.miniclap_heads
    from ...cli.miniclap_heads import main

    main()
