"""tagclap and miniclap side by side on MiniAudio (needs `make data` and `make miniclap`).

    python -m mats_lib.encoders.miniclap.study [--seed 0] [--out reports/miniclap_report.json]

1. eval split (random clip split; heads trained on the audio-train split): zero-shot accuracy pooled
   (every clip against all 292 labels of the six label sets) and within each source (against its label
   set), split into clips whose label was / was not seen in training; audio<->text R@1/R@5 on the 200 eval mixtures of MiniAudio;
2. class-disjoint: per label group k, heads trained without group k (as in the fold search), tested on
   the eval clips whose labels that fit never saw, and on 200 mixtures of those clips (mean over groups);
3. leave-one-source-out: heads trained without source S (no clip of S, no mixture containing S), tested
   on all clips of S (none was seen), balanced accuracy within each clip's label set;
4. a post-hoc table of the same checks for every w of the grid at the chosen steps (a description of the
   trade-off; the defaults come only from the guarded selection of ``training``);
5. descriptions: the cone (mean off-diagonal audio-audio cosine), paired audio-text cosine, and modality
   separability (5-fold logistic-regression accuracy, audio vs caption embeddings).
Every miniclap variant uses the defaults (steps, w, gate sigma) stored with the heads; tagclap = w 0 (same
scores). The trade-off over other settings is frontier.py.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..encoders.miniclap.encoder import FrozenTowers, default_heads_path, embed_features, embed_unit_text
from ..encoders.miniclap.gate import describe as describe_gate
from ..encoders.miniclap.heads import load_heads
from ..encoders.miniclap.pairs import clip_items, label_groups, mixture_items, training_items
from ..encoders.miniclap.fit import TextTable, TrainSettings
from ..paths import data_dir
from ..prompts import zero_shot_prompt
from ..seed import make_generators


def describe(heads, text, feats, captions, w, sigma=None) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    audio, txt = embed_features(heads, feats, w, sigma), embed_unit_text(heads, text(captions), w)
    sim = audio @ audio.T
    n = len(audio)
    x = np.concatenate([audio, txt])
    y = np.r_[np.zeros(n), np.ones(n)]
    probe = cross_val_score(LogisticRegression(max_iter=2000), x, y, cv=5)
    return {"audio_audio_cos": float((sim.sum() - np.trace(sim)) / (n * (n - 1))),
            "paired_audio_text_cos": float((audio * txt).sum(1).mean()),
            "modality_separability": float(probe.mean())}


def setup(seed: int, heads_path: Path | None) -> SimpleNamespace:
    """Everything the report (and frontier.py) evaluates: the heads and their settings,
    the audio-train items, eval clips and mixtures, the class-disjoint test sets, the text table."""
    root = data_dir() / "miniaudio"
    heads_path = heads_path or default_heads_path(seed)
    heads, info = load_heads(heads_path)
    settings = TrainSettings(**info["train_settings"])
    gens = make_generators(info["seed"])
    all_clips = json.loads((root / "clips.json").read_text())
    label_sets = {k[4:]: v["labels"] for k, v in json.loads((root / "labels.json").read_text()).items() if k.startswith("cls_")}
    all_labels = sorted({l for v in label_sets.values() for l in v})
    train_clips = [c for c in all_clips if c["split"] == "train"]
    eval_clips = [c for c in all_clips if c["split"] == "eval"]
    groups = label_groups([c["label"] for c in train_clips], settings.groups, gens.child("label-groups").numpy)
    assert groups == info["label_groups"], "heads were built from other label groups (rebuild with `make miniclap`)"
    towers = FrozenTowers(progress=False)
    train = training_items(root, train_clips, groups, settings.mixtures_per_group, gens, towers)
    evals = clip_items(root, eval_clips, towers)
    scenes = [s for s in json.loads((root / "scenes.json").read_text()) if s["split"] == "eval"]
    scene_feats = towers.embed_audio([root / s["audio_id"] for s in scenes])
    # class-disjoint test sets: per label group k, the eval clips whose labels the fit without k never saw
    group_of = np.array([groups[l[0]] for l in train.labels])
    disjoint = []
    for k in range(settings.groups):
        fit = train.subset(np.flatnonzero(group_of != k).tolist())
        fit_labels = {l for ls in fit.labels for l in ls}
        test_clips = [c for c in eval_clips if c["label"] not in fit_labels]
        mixtures = mixture_items(root, test_clips, 200, gens.child(f"report-disjoint-mixtures-{k}").numpy, towers,
                                 prefix=f"eval_disjoint_g{k}")
        disjoint.append((fit, test_clips, clip_items(root, test_clips, towers), mixtures))
    # leave one source out: heads fit without any clip of S (nor mixture holding one), all clips of S tested
    source_of = {c["clip_id"]: c["source"] for c in all_clips}
    loso = {}
    for source in sorted({c["source"] for c in all_clips}):
        fit = train.subset([i for i, ms in enumerate(train.members) if all(source_of[m] != source for m in ms)])
        test_clips = [c for c in all_clips if c["source"] == source]
        loso[source] = (fit, test_clips, clip_items(root, test_clips, towers))
    texts = ([c for caps in train.captions for c in caps] + [zero_shot_prompt(l) for l in all_labels]
             + [s["caption"] for s in scenes] + [c[0] for *_, m in disjoint for c in m.captions])
    return SimpleNamespace(heads_path=heads_path, heads=heads, info=info, settings=settings, all_clips=all_clips,
                           label_sets=label_sets, all_labels=all_labels, train_clips=train_clips, eval_clips=eval_clips,
                           train=train, evals=evals, scenes=scenes, scene_feats=scene_feats, disjoint=disjoint, loso=loso,
                           text=TextTable(texts))




def print_table(r: dict) -> None:
    e, d = r["eval_split"], r["class_disjoint"]
    print(f"miniclap defaults: steps {r['defaults']['steps']}, w {r['defaults']['w']}, gate sigma {r['defaults']['sigma']}")
    print(f"{'':44s}{'tagclap':>9s}{'miniclap':>10s}")
    rows = [("eval: zero-shot pooled", e["tagclap"]["pooled"], e["miniclap"]["pooled"]),
            ("eval: zero-shot pooled, seen labels", e["tagclap"]["pooled_seen_label"], e["miniclap"]["pooled_seen_label"]),
            ("eval: zero-shot pooled, unseen labels", e["tagclap"]["pooled_unseen_label"], e["miniclap"]["pooled_unseen_label"]),
            ("eval: zero-shot within label set", e["tagclap"]["within_label_set_all"], e["miniclap"]["within_label_set_all"])]
    rows += [(f"eval: within label set, {s}", e["tagclap"]["within_label_set"][s], e["miniclap"]["within_label_set"][s])
             for s in e["tagclap"]["within_label_set"]]
    rows += [(f"eval mixtures: {k}", e["tagclap"]["mixtures"][k], e["miniclap"]["mixtures"][k]) for k in e["tagclap"]["mixtures"]]
    rows += [(f"class-disjoint: {k}", d["tagclap"][k], d["miniclap"][k]) for k in d["tagclap"]]
    rows += [(f"leave-one-source-out: {s} (bal. acc)", v["tagclap"], v["miniclap"]) for s, v in r["leave_one_source_out"].items()]
    rows += [(f"{k}", r["descriptions"]["tagclap"][k], r["descriptions"]["miniclap"][k]) for k in r["descriptions"]["tagclap"]]
    for name, a, b in rows:
        print(f"{name:44s}{a:9.3f}{b:10.3f}")
    print(f"out-of-domain gate (leave-one-source-out, miniclap vs tagclap): {describe_gate(r['out_of_domain_gate'])}")
    sens = r["w_sensitivity_post_hoc"]
    sources = list(next(iter(sens.values()))["loso_balanced"])
    print("post-hoc sensitivity to w (steps fixed; not used to choose): eval pooled, eval a2t R@5, "
          "class-disjoint zero-shot, R@5, then LOSO balanced accuracy per source")
    print(f"{'w':>5s}" + "".join(f"{k[:10]:>11s}" for k in ["ev-pooled", "ev-R@5", "cd-zs", "cd-R@5", *sources]))
    for w, row in sens.items():
        values = [row["eval_pooled"], row["eval_a2t_R@5"], row["disjoint_zero_shot"], row["disjoint_a2t_R@5"],
                  *row["loso_balanced"].values()]
        print(f"{float(w):5.2f}" + "".join(f"{v:11.3f}" for v in values))


if __name__ == "__main__":  # the command lives in mats_lib.cli.miniclap_study
    from ..cli.miniclap_study import main

    main()
