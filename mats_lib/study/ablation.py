"""Santa's lambda swept on the study's runs (claims C4, C6): every lambda evaluated (parts reused by key), and the
paper's ablations of Santa's parts. ``analysis.ablation`` finds the optimum and renders the sweep.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..analysis.ablation import KINDS, PAPER_CIDER, PAPER_LAMBDA, interior_optimum
from ..analysis.transfer_table import task_scores
from ..config import Config, load_config
from ..data.tasks import get_task
from ..evaluation import evaluate_run
from ..paths import eval_dir
from ..runs import StaleRunError, finished_run, run_config, run_dir
from ..stats import bootstrap, paired_difference
from .item_rows import condition_rows


CLEAN_SANTA = "santa@noise_variance=0"  # C6's reading of "without the noise": Santa's retrieved texts left clean


def lambda_condition(lam: float) -> str:
    """The item table's name of Santa at ``lam``: 'santa@lam=0.3'."""
    return f"santa@lam={float(lam):g}"


def lambda_settings(cfg: Config, lam: float) -> Config:
    return replace(cfg, santa=replace(cfg.santa, lam=float(lam)), eval=replace(cfg.eval, transfers=["santa"]))


def lambda_sweep(preset: str, encoder: str, seeds: list[int], lambdas: list[float], *, overrides: dict | None = None,
                 out_root: Path | None = None, tracker=None, progress: bool = True, item_rows: list | None = None) -> dict:
    """Per lambda: the pooled statistic of each kind with its interval, and the paired difference against
    lambda 0.3 (when 0.3 is in the grid). ``tracker``: an EvalTracker; one nested run per lambda. ``item_rows`` (a
    list) receives the per-item rows of every lambda (condition ``santa@lam=<x>``) and of the C6 readings."""
    out_root = out_root or eval_dir()
    results: dict[float, dict] = {lam: {} for lam in lambdas}
    cfg = None
    for seed in seeds:
        cfg = run_config(preset, encoder, seed, "text", overrides)
        folder = finished_run(cfg)
        for lam in lambdas:
            results[lam][seed] = evaluate_run(folder, lambda_settings(cfg, lam), out_root / folder.name,
                                              progress=progress)["santa"]
    if item_rows is not None:
        item_rows += [row for lam in lambdas for row in condition_rows(encoder, lambda_condition(lam), results[lam])]
    tasks = [t for t in cfg.eval.tasks if get_task(t).kind in KINDS]
    scores = {lam: {t: task_scores(results[lam], t) for t in tasks} for lam in lambdas}
    resamples = cfg.eval.bootstrap_resamples
    rows = []
    for lam in lambdas:
        row: dict = {"lam": lam}
        for kind in KINDS:
            mine = {t: s for t, s in scores[lam].items() if get_task(t).kind == kind}
            if not mine:
                continue
            row[kind] = bootstrap(mine, resamples=resamples).as_dict()
            if PAPER_LAMBDA in scores and lam != PAPER_LAMBDA:
                ref = {t: s for t, s in scores[PAPER_LAMBDA].items() if get_task(t).kind == kind}
                row[f"{kind}_vs_0.3"] = paired_difference(mine, ref, resamples=resamples).as_dict()
        rows.append(row)
        if tracker is not None:
            tracker.log_variant(f"santa.lam={lam}", {"santa.lam": lam, "encoder.name": encoder, "preset": preset,
                                                     "training_seeds": ",".join(map(str, seeds))},
                                {kind: row[kind]["value"] for kind in KINDS if kind in row}
                                | {f"{kind}_ci_low": row[kind]["ci95"][0] for kind in KINDS if kind in row}
                                | {f"{kind}_ci_high": row[kind]["ci95"][1] for kind in KINDS if kind in row})
    c6 = santa_ablation(preset, encoder, seeds, scores, overrides=overrides, out_root=out_root, progress=progress,
                        item_rows=item_rows)
    return {"preset": preset, "encoder": encoder, "seeds": seeds, "lambdas": lambdas, "rows": rows,
            "claim": interior_optimum(rows), "c6": c6, "paper": {"chosen_lambda": PAPER_LAMBDA, "cider": PAPER_CIDER}}


def santa_ablation(preset: str, encoder: str, seeds: list[int], scores: dict, *, overrides: dict | None = None,
                   out_root: Path, progress: bool = True, item_rows: list | None = None) -> dict:
    """C6 against full Santa (lambda 0.3, the run's noise), on captioning CIDEr-D, paired: without the audio
    embedding (lambda 1), and without the noise in both readings: Santa's retrieved texts left clean
    (santa.noise_variance = 0) and Santa on a model trained without noise (when those runs exist)."""
    if PAPER_LAMBDA not in scores:
        return {"verdict": "inconclusive", "why": "0.3 is not in the grid"}
    full = {t: s for t, s in scores[PAPER_LAMBDA].items() if get_task(t).kind == "caption"}
    variants: dict[str, dict] = {}
    if 1.0 in scores:
        variants["without the audio embedding (lambda 1)"] = {t: scores[1.0][t] for t in full}
    clean, nonoise = {}, {}
    for seed in seeds:
        cfg = run_config(preset, encoder, seed, "text", overrides)
        settings = lambda_settings(cfg, PAPER_LAMBDA)
        settings = replace(settings, santa=replace(settings.santa, noise_variance=0.0))
        clean[seed] = evaluate_run(finished_run(cfg), settings, out_root / run_dir(cfg).name, progress=progress)["santa"]
        no_noise_cfg = run_config(preset, encoder, seed, "nonoise", overrides)
        if (run_dir(no_noise_cfg) / "final").exists():  # an extra reading, when the no-noise runs exist and are current
            try:
                nonoise[seed] = evaluate_run(run_dir(no_noise_cfg), lambda_settings(no_noise_cfg, PAPER_LAMBDA),
                                             out_root / run_dir(no_noise_cfg).name, progress=progress)["santa"]
            except StaleRunError as error:
                print(f"C6 on a model trained without noise: left out ({error})")
    variants["without noise on the retrieved texts (santa.noise_variance 0)"] = {t: task_scores(clean, t) for t in full}
    if item_rows is not None:
        item_rows += condition_rows(encoder, CLEAN_SANTA, clean)
    if len(nonoise) == len(seeds):
        variants["on a model trained without noise"] = {t: task_scores(nonoise, t) for t in full}
    resamples = load_config(preset).eval.bootstrap_resamples
    rows = {name: paired_difference(v, full, resamples=resamples).as_dict() for name, v in variants.items()}
    verdicts = [r["verdict"] for r in rows.values()]
    verdict = ("reproduced" if verdicts and all(v == "worse" for v in verdicts) else
               "not reproduced" if "better" in verdicts else "inconclusive")
    return {"differences_vs_full_santa": rows, "verdict": verdict,
            "why": "each ablation against full Santa, CIDEr-D, paired (reproduced: every ablation is worse)"}
