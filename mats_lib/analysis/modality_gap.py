"""The modality gap (paper Fig. 3; claim C3): where audio lands against what the decoder was trained on.

Pairs are eval-part clips with their text (a scene's caption, or "The sound of <label>." for a labelled
clip), drawn with a fixed seed. Four views, as the figure's panels:

| view    | text side                               | audio side                       |
|---------|-----------------------------------------|----------------------------------|
| clap    | CLAP text embeddings                    | CLAP audio embeddings            |
| noise   | text + the training noise (the inputs the noise-trained decoder saw) | audio as is |
| memory  | text + the training noise               | audio through the memory bank (DRCap) |
| santa   | text + the training noise               | audio through Santa              |

Numbers a picture cannot give, each with a bootstrap interval over pairs: the distance between the two
centroids, the mean paired cosine, an RBF-kernel MMD^2 (median-heuristic bandwidth) and the cross-validated
accuracy of a linear probe telling the two sides apart (0.5 = indistinguishable). C3 compares Santa's
MMD with the plain audio's on the same resampled pairs.
"""
from __future__ import annotations

import numpy as np

from ..prompts import label_caption
from ..stats import verdict

VIEWS = ("clap", "noise", "memory", "santa")
STATISTICS = ("centroid_distance", "paired_cosine", "mmd2_rbf", "probe_accuracy")


def paired_text(record: dict) -> str:
    return record["output"] if record["task"] == "caption_scenes" else label_caption(record["output"])


# ------------------------------------------------------------------------------------------ statistics
def _bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    z = np.concatenate([x, y])
    d2 = np.sum((z[:, None] - z[None]) ** 2, -1)
    return float(np.median(d2[np.triu_indices(len(z), 1)]))


def mmd2_rbf(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    """Biased MMD^2 with an RBF kernel exp(-gamma ||a - b||^2) (scikit-learn's kernel)."""
    from sklearn.metrics.pairwise import rbf_kernel

    return float(rbf_kernel(x, x, gamma=gamma).mean() + rbf_kernel(y, y, gamma=gamma).mean()
                 - 2 * rbf_kernel(x, y, gamma=gamma).mean())


def probe_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """5-fold accuracy of a logistic regression telling text (x) from audio (y)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    data, labels = np.concatenate([x, y]), np.r_[np.zeros(len(x)), np.ones(len(y))]
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(LogisticRegression(max_iter=2000), data, labels, cv=folds).mean())


def gap_statistics(text: np.ndarray, audio: np.ndarray, gamma: float, seed: int = 0) -> dict[str, float]:
    return {"centroid_distance": float(np.linalg.norm(text.mean(0) - audio.mean(0))),
            "paired_cosine": float(np.mean(np.sum(text * audio, 1))),
            "mmd2_rbf": mmd2_rbf(text, audio, gamma), "probe_accuracy": probe_accuracy(text, audio, seed)}


def gap_table(view_pairs: dict[str, tuple[np.ndarray, np.ndarray]], resamples: int = 200, seed: int = 0) -> dict:
    """Per view, each statistic with a 95% percentile interval over resampled pairs (the same resamples for
    every view), and C3: Santa's MMD^2 minus the plain audio's ('noise' view), paired over those resamples.
    One bandwidth for every view (the median heuristic on the CLAP view), so MMDs compare."""
    gamma = 1.0 / max(_bandwidth(*view_pairs["clap"]), 1e-12)
    n = len(view_pairs["clap"][0])
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, n, n) for _ in range(resamples)]
    out: dict = {"gamma": gamma, "resamples": resamples, "pairs": n, "views": {}}
    cheap = ("centroid_distance", "paired_cosine", "mmd2_rbf")  # the probe is refitted only on the full data
    samples: dict[str, dict[str, list[float]]] = {}
    for name, (text, audio) in view_pairs.items():
        point = gap_statistics(text, audio, gamma, seed)
        samples[name] = {s: [] for s in cheap}
        for idx in draws:
            t, a = text[idx], audio[idx]
            samples[name]["centroid_distance"].append(float(np.linalg.norm(t.mean(0) - a.mean(0))))
            samples[name]["paired_cosine"].append(float(np.mean(np.sum(t * a, 1))))
            samples[name]["mmd2_rbf"].append(mmd2_rbf(t, a, gamma))
        out["views"][name] = {s: {"value": point[s], **({"ci95": [float(np.percentile(samples[name][s], 2.5)),
                                                                  float(np.percentile(samples[name][s], 97.5))]}
                                                         if s in cheap else {})} for s in STATISTICS}
    if "santa" in samples and "noise" in samples:
        diff = np.array(samples["santa"]["mmd2_rbf"]) - np.array(samples["noise"]["mmd2_rbf"])
        low, high = np.percentile(diff, [2.5, 97.5])
        point = out["views"]["santa"]["mmd2_rbf"]["value"] - out["views"]["noise"]["mmd2_rbf"]["value"]
        # a smaller gap is the better outcome: the verdict is on (plain - Santa)
        out["c3"] = {"santa_minus_plain_mmd2": {"value": point, "ci95": [float(low), float(high)]},
                     "verdict": verdict(-high, -low)}
    return out


# ------------------------------------------------------------------------------------------ C3, against clean text
def mmd2_unbiased(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    """Unbiased MMD^2 (RBF kernel): the within-sample means leave out each point's kernel with itself, so a sample
    that is merely more spread out is not read as farther away."""
    from sklearn.metrics.pairwise import rbf_kernel

    kxx, kyy, kxy = rbf_kernel(x, x, gamma=gamma), rbf_kernel(y, y, gamma=gamma), rbf_kernel(x, y, gamma=gamma)
    n, m = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.mean())


def _centroid_distance(text: np.ndarray, audio: np.ndarray) -> float:
    return float(np.linalg.norm(text.mean(0) - audio.mean(0)))


def clean_text_gap(text: np.ndarray, audio_sides: dict[str, np.ndarray], *, baseline: str = "audio",
                   resamples: int = 200, seed: int = 0) -> dict:
    """C3's inputs: every audio side (the audio as is, through the memory bank, through Santa) measured against the
    same clean text of its clip. Per clip, the paired cosine (the declared primary, split per clip so a verdict can
    be recomputed from it); per side against ``baseline``, the centroid distance and the unbiased MMD^2 as paired
    bootstrap differences over clips (the same draws for both sides), and the linear probe's accuracy (a point)."""
    from ..stats import two_sided_p

    gamma = 1.0 / max(_bandwidth(text, audio_sides[baseline]), 1e-12)
    rng = np.random.default_rng(seed)
    n = len(text)
    draws = [rng.integers(0, n, n) for _ in range(resamples)]
    out: dict = {"baseline": baseline, "gamma": gamma, "clips": n,
                 "paired_cosine": {v: np.sum(text * a, 1).tolist() for v, a in audio_sides.items()},
                 "probe_accuracy": {v: probe_accuracy(text, a, seed) for v, a in audio_sides.items()},
                 "differences": {}}
    statistics = {"centroid_distance": _centroid_distance,
                  "mmd2_unbiased": lambda t, a: mmd2_unbiased(t, a, gamma)}
    for view, audio in audio_sides.items():
        if view == baseline:
            continue
        out["differences"][view] = {}
        for name, f in statistics.items():
            point = f(text, audio) - f(text, audio_sides[baseline])
            boot = np.array([f(text[i], audio[i]) - f(text[i], audio_sides[baseline][i]) for i in draws])
            low, high = np.percentile(boot, [2.5, 97.5])
            out["differences"][view][name] = {"value": float(point), "ci95": [float(low), float(high)],
                                              "p_value": two_sided_p(boot), "resamples": resamples}
    return out


def tsne(view_pairs: dict[str, tuple[np.ndarray, np.ndarray]], seed: int = 0) -> dict[str, np.ndarray]:
    """Per view, [2n, 2] t-SNE coordinates (scikit-learn, fixed seed): text rows first, then audio."""
    from sklearn.manifold import TSNE

    out = {}
    for name, (text, audio) in view_pairs.items():
        data = np.concatenate([text, audio])
        perplexity = float(min(30, max(5, (len(data) - 1) // 3)))
        out[name] = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(data)
    return out
