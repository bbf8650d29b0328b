"""The committed reports as MLflow runs: what a fresh clone's MLflow UI shows without any training.

Each report JSON becomes one parent run and children: per encoder x condition for the transfer and benchmark
tables (each pooled value with its interval ``<kind>``, ``<kind>_ci_low``, ``<kind>_ci_high``, its paired
difference against *noise*, and each task's value), per lambda for the sweep, per view for the modality gap, per
point for the bound, per declared test for the summary; a training report is one run with its loss curve. Pure:
``cli.mlflow_import`` hands the specs to ``tracking.import_report``, which makes them runs.

A spec: {"name", "params", "metrics": {name: value}, "series": {name: [(step, value)]}, "tags", "children": [spec]}.
"""
from __future__ import annotations

import re

CLAIMS_OF = {"benchmark_tables": "C1,C2,C7", "transfer_table": "C1,C2,C7", "ablation_lambda": "C4,C6",
             "modality_gap": "C3", "generalization_bound": "C5", "efficiency": "C8", "summary": "C1-C8"}


def metric_name(text: str) -> str:
    """An MLflow-safe metric or param key (letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", text)


def _interval(prefix: str, cell: dict | None) -> dict[str, float]:
    if not cell or cell.get("value") is None:
        return {}
    out = {prefix: float(cell["value"])}
    low, high = cell.get("ci95", [None, None])
    if low is not None:
        out.update({f"{prefix}_ci_low": float(low), f"{prefix}_ci_high": float(high)})
    return out


def _spec(name: str, params: dict | None = None, metrics: dict | None = None, children: list | None = None,
          series: dict | None = None, tags: dict | None = None) -> dict:
    return {"name": name, "params": {k: v for k, v in (params or {}).items() if v is not None},
            "metrics": {metric_name(k): v for k, v in (metrics or {}).items() if v is not None},
            "series": series or {}, "tags": tags or {}, "children": children or []}


def condition_metrics(t: dict, condition: str, reference: str = "noise") -> dict[str, float]:
    """One condition of one encoder's table: each pooled value with its interval, its paired differences against
    the reference and the constant baselines, and each task's value."""
    cells = t["conditions"][condition]
    metrics: dict = {}
    for kind in ("classification", "caption", "qa"):
        metrics.update(_interval(kind, cells.get(kind)))
        metrics.update(_interval(f"{kind}_vs_{reference}", t["differences"].get(condition, {}).get(kind)))
        metrics.update(_interval(f"{kind}_vs_constant", t["versus_constant"].get(condition, {}).get(kind)))
    if cells.get("classification_accuracy") is not None:
        metrics["classification_accuracy"] = cells["classification_accuracy"]
    metrics.update({f"task.{task}": v for task, v in t["per_task"].get(condition, {}).items()})
    return {metric_name(k): v for k, v in metrics.items()}


def table_spec(name: str, table: dict) -> dict:
    """The transfer or benchmark table: a child per encoder x condition, and one per encoder's baselines."""
    children = []
    for encoder, t in table["encoders"].items():
        for condition in t["conditions"]:
            metrics = condition_metrics(t, condition, table["reference"])
            children.append(_spec(f"{encoder}/{condition}", {"encoder.name": encoder, "condition": condition,
                                                             "preset": table["preset"],
                                                             "training_seeds": ",".join(map(str, table["seeds"]))},
                                  metrics))
        baselines: dict = {}
        for kind, cell in t["baselines"].items():
            baselines.update(_interval(kind, cell))
        children.append(_spec(f"{encoder}/baselines", {"encoder.name": encoder, "condition": "constant baselines",
                                                       "preset": table["preset"]}, baselines))
    return _spec(name, {"preset": table["preset"], "encoders": ",".join(table["encoders"]),
                        "conditions": ",".join(table["conditions"]), "command": table.get("command", "")},
                 children=children)


def sweep_spec(name: str, sweep: dict) -> dict:
    children = []
    for row in sweep["rows"]:
        metrics: dict = {}
        for kind in ("classification", "caption"):
            metrics.update(_interval(kind, row.get(kind)))
            metrics.update(_interval(f"{kind}_vs_0.3", row.get(f"{kind}_vs_0.3")))
        children.append(_spec(f"santa.lam={row['lam']}", {"santa.lam": row["lam"], "encoder.name": sweep["encoder"],
                                                            "preset": sweep["preset"]}, metrics))
    return _spec(name, {"preset": sweep["preset"], "encoder.name": sweep["encoder"],
                        "training_seeds": ",".join(map(str, sweep["seeds"]))}, children=children)


def gap_spec(name: str, gap: dict) -> dict:
    children = [_spec(view, {"view": view, "encoder.name": gap["encoder"], "preset": gap["preset"]},
                      {k: v for s, cell in stats.items() for k, v in _interval(s, cell).items()})
                for view, stats in gap["views"].items()]
    return _spec(name, {"preset": gap["preset"], "encoder.name": gap["encoder"], "pairs": gap.get("pairs")},
                 children=children)


def bound_spec(name: str, bound: dict) -> dict:
    metrics = {}
    for estimator, c in bound.get("correlations", {}).items():
        if c.get("rho") is not None:
            metrics.update({f"{estimator}.spearman_rho": c["rho"], f"{estimator}.spearman_rho_ci_low": c["ci95"][0],
                            f"{estimator}.spearman_rho_ci_high": c["ci95"][1]})
    children = [_spec(f"{p['encoder']}/{p['transfer']}" + (f"/lam={p['lam']}" if p.get("lam") is not None else "")
                      + f"/seed{p['seed']}",
                      {"encoder.name": p["encoder"], "transfer": p["transfer"], "santa.lam": p.get("lam"),
                       "training_seed": p["seed"], "preset": bound["preset"]},
                      {k: v for k, v in p.items() if isinstance(v, float)})
                for p in bound["points"]]
    return _spec(name, {"preset": bound["preset"], "encoders": ",".join(bound["encoders"])}, metrics, children)


def efficiency_spec(name: str, report: dict) -> dict:
    ratios = {**report["training"].get("ratios", {}), **report["inference"].get("ratios", {})}
    metrics = {f"ratio.{k}": v for k, v in ratios.items()}
    claim = report.get("claim", {})
    metrics.update(_interval("c8.audio_minus_text_seconds_per_sample", claim.get("interval")))
    return _spec(name, {"machine": report["training"].get("machine", "not recorded"),
                        "llm_dtype": report["training"].get("llm_dtype")}, metrics)


def training_spec(name: str, report: dict) -> dict:
    per_step = report.get("loss_per_step")
    series = {"loss": list(zip(per_step["step"], per_step["loss"]))} if per_step else {}
    settings = report.get("key", {}).get("settings", {})
    params = {"run": report["run"], "steps": report["steps"], "run_key": report.get("key", {}).get("key"),
              "encoder.name": settings.get("encoder", {}).get("name"), "training_seed": settings.get("seed"),
              "data.modality": settings.get("data", {}).get("modality"),
              "data.noise_variance": settings.get("data", {}).get("noise_variance")}
    return _spec(name, params, {"loss_first10": report.get("loss_first10"), "loss_last25": report.get("loss_last25")},
                 series=series)


def summary_spec(name: str, summary: dict) -> dict:
    children = []
    for claim, rows in summary["claims"].items():
        for row in rows:
            test = row.get("test", claim)
            metrics: dict = {}
            for b, cell in (row.get("intervals") or {}).items():
                metrics.update(_interval(f"primary_vs_{b}", cell))
            metrics.update(_interval("primary", row.get("interval")))
            children.append(_spec(f"{test}/{row['scope']}", {"test": test, "claim": claim, "scope": row["scope"],
                                                               "primary": row.get("primary")},
                                  metrics, tags={"verdict": row["verdict"],
                                                 "qualifiers": ", ".join(row.get("qualifiers", [])), "claim": claim}))
    return _spec(name, {"preset": summary["preset"], "setting": summary.get("setting")}, children=children)


BUILDERS = (("benchmark_tables", table_spec), ("transfer_table", table_spec), ("ablation_lambda-", sweep_spec),
            ("modality_gap-", gap_spec), ("generalization_bound", bound_spec), ("efficiency", efficiency_spec),
            ("train-", training_spec), ("summary", summary_spec))


def report_spec(stem: str, report: dict) -> dict | None:
    """The runs of one report file (named by its stem), or None for a report the UI has no view of."""
    for prefix, build in BUILDERS:
        if stem == prefix or (prefix.endswith("-") and stem.startswith(prefix)):
            spec = build(stem, report)
            claims = next((c for p, c in CLAIMS_OF.items() if stem.startswith(p)), None)
            if claims:  # every run of the report says which claim it serves (a summary row says its own)
                for run in [spec, *spec["children"]]:
                    run["tags"].setdefault("claim", claims)
            return spec
    return None
