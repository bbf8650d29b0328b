"""Corpus variants (first built for the archived transfer-lever study, docs/transfer_levers.md): another mixture of the sources, or the corpus without some labels.

    python -m mats_lib.data.corpus_variants scale build/data/audiotia_mini/sources.json tia_class_description=3
    # -> build/data/audiotia_mini/sources-tia_class_description_x3.json (the same files, scaled ratios)
    python -m mats_lib.data.corpus_variants hold-out build/data/audiotia_mini/sources.json build/data/miniaudio/labels.json cls_synth
    # -> build/data/audiotia_mini/without-cls_synth/sources.json (no record naming a label of cls_synth)

Train on a variant with ``--set data.corpus=<its manifest>``. The run's data fingerprint covers the manifest and
the files, so a variant trains into its own keyed run. `make data` rebuilds the corpus folder and removes the
variants: write them again after a rebuild (the same command gives the same bytes).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .io import write_json, write_jsonl
from .records import load_train_records


def scaled_manifest(manifest: str | Path, factors: dict[str, float]) -> Path:
    """Write ``sources-<source>_x<factor>[...].json`` beside ``manifest`` with those sources' ratios scaled;
    returns its path. Unknown sources and non-positive factors are refused."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"corpus manifest {manifest} not found: build the data first (`make data`)")
    sources = json.loads(manifest.read_text())
    unknown = sorted(set(factors) - set(sources))
    if unknown:
        raise KeyError(f"{manifest}: no source {unknown}; sources: {sorted(sources)}")
    for name, factor in factors.items():
        if not factor > 0:
            raise ValueError(f"factor of {name} must be positive, got {factor}")
    scaled = {name: {**info, "ratio": info["ratio"] * factors.get(name, 1)} for name, info in sources.items()}
    suffix = "-".join(f"{name}_x{factor:g}" for name, factor in sorted(factors.items()))
    out = manifest.with_name(f"{manifest.stem}-{suffix}.json")
    write_json(out, scaled)
    return out


def mentions(text: str, labels: list[str]) -> bool:
    """Whether ``text`` names one of ``labels`` as a whole phrase (case-insensitive; plural -s allowed)."""
    return any(re.search(rf"\b{re.escape(label.lower())}s?\b", text.lower()) for label in labels)


def held_out_corpus(manifest: str | Path, labels_json: str | Path, label_set: str) -> Path:
    """Write ``without-<label_set>/`` beside ``manifest``: every source's records minus those whose caption, output
    or instruction names a label of ``label_set`` (the run then never read those label texts), and its
    manifest with the counts. Returns the manifest's path."""
    manifest, labels_json = Path(manifest), Path(labels_json)
    label_sets = json.loads(labels_json.read_text())
    if label_set not in label_sets:
        raise KeyError(f"{labels_json}: no label set {label_set!r}; label sets: {sorted(label_sets)}")
    labels = label_sets[label_set]["labels"]
    out = manifest.parent / f"without-{label_set}"
    out.mkdir(parents=True, exist_ok=True)
    sources = json.loads(manifest.read_text())
    variant = {}
    for name, info in sorted(sources.items()):
        records, _ = load_train_records(manifest.parent / info["file"])
        kept = [r for r in records if not any(mentions(r.get(k) or "", labels) for k in ("caption", "output", "instruction"))]
        write_jsonl(out / info["file"], kept)
        variant[name] = {**info, "records": len(kept), "removed_for_held_out_labels": len(records) - len(kept)}
    write_json(out / "sources.json", variant)
    return out / "sources.json"


if __name__ == "__main__":  # the command lives in mats_lib.cli.corpus_variants
    from ..cli.corpus_variants import main

    main()
