"""Train MiniCLAP's heads and choose its defaults (steps, w) on class-disjoint folds of the audio-train split.

    python -m mats_lib.encoders.miniclap_train --seed 0     # `make miniclap`; writes build/miniclap/heads-seed0.*

Rule (fixed here, never looks at the eval split): deal the labels of the audio-train clips into
``groups`` groups; for each group k train on the other groups' clips and mixtures and validate on group
k's (labels never seen in that fit). The score of (steps, w) is the mean over folds of
(zero-shot accuracy of the held-out clips among the held-out labels + audio->text R@5 among the held-out
mixtures) / 2. The default is the best score; configurations within ``TIE`` of it count as ties, broken
towards fewer steps, then smaller w (the lighter change to tagclap). The heads are then trained on the
whole audio-train split for the chosen steps.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..paths import REPO_ROOT, data_dir
from ..retrieval import recall_at_k
from ..seed import make_generators
from .base import l2_normalize
from .minilm import shared_minilm
from .miniclap import FrozenTowers, default_heads_path, embed_features, embed_unit_text
from .miniclap_heads import HeadsConfig, MiniClapHeads, contrastive_loss, save_heads
from .miniclap_pairs import AudioItems, label_groups, training_items, zero_shot_prompt

STEP_GRID = (0, 10, 20, 40, 80, 160, 320)
W_GRID = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)
TIE = 0.005
RULE = ("mean over class-disjoint folds of (held-out zero-shot accuracy + held-out mixture audio->text R@5) / 2; "
        f"best, with scores within {TIE} as ties broken towards fewer steps, then smaller w")


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


def select_defaults(items: AudioItems, groups: dict[str, int], text: TextTable, seed: int,
                    settings: TrainSettings = TrainSettings()) -> dict:
    """The class-disjoint fold search over STEP_GRID x W_GRID; returns the table and the chosen (steps, w)."""
    group_of = np.array([groups[labels[0]] for labels in items.labels])
    scores = {}  # (steps, w) -> [fold scores]
    for k in range(settings.groups):
        fit = items.subset(np.flatnonzero(group_of != k).tolist())
        held = items.subset(np.flatnonzero(group_of == k).tolist())
        clips = held.subset([i for i, kind in enumerate(held.kind) if kind == "clip"])
        mixtures = held.subset([i for i, kind in enumerate(held.kind) if kind == "mixture"])
        candidates = sorted({l[0] for l in clips.labels})

        def record(step, heads):
            if step in STEP_GRID:
                for w in W_GRID:
                    r = evaluate(heads, text, clips, candidates, mixtures, w)
                    scores.setdefault((step, w), []).append((r["zero_shot"] + r["a2t_R@5"]) / 2)

        train_heads(fit, text, max(STEP_GRID), seed=seed * 1000 + k, settings=settings, on_step=record)
    table = [{"steps": s, "w": w, "score": float(np.mean(v)), "folds": [round(x, 4) for x in v]}
             for (s, w), v in sorted(scores.items())]
    best = max(r["score"] for r in table)
    chosen = min((r for r in table if r["score"] >= best - TIE), key=lambda r: (r["steps"], r["w"]))
    return {"table": table, "best_score": best, "steps": chosen["steps"], "w": chosen["w"], "rule": RULE}


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except Exception:
        return "unknown"


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
    text = TextTable([c for caps in items.captions for c in caps]
                     + [zero_shot_prompt(c["label"]) for c in clips])
    selection = select_defaults(items, groups, text, seed, settings)
    heads = train_heads(items, text, selection["steps"], seed=seed, settings=settings, heads_config=heads_config)
    meta = {"seed": seed, "steps": selection["steps"], "default_w": selection["w"], "train_settings": asdict(settings),
            "selection": selection, "label_groups": groups,
            "pairs": {"clips": sum(k == "clip" for k in items.kind), "mixtures": sum(k == "mixture" for k in items.kind)},
            "train_clip_ids": sorted({m for ms in items.members for m in ms}),
            "code_revision": git_revision(), "torch": torch.__version__}
    save_heads(heads, out, meta)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    path = build_heads(args.seed, args.out)
    info = json.loads(path.with_suffix(".json").read_text())
    print(f"miniclap heads: {path} (sha256 {info['sha256'][:16]})")
    print(f"  pairs: {info['pairs']['clips']} clips + {info['pairs']['mixtures']} mixtures; "
          f"chosen steps {info['steps']}, w {info['default_w']} (fold score {info['selection']['best_score']:.3f})")
    print(f"  {time.perf_counter() - start:.0f} s on {platform.processor() or platform.machine()}")


if __name__ == "__main__":
    main()
