"""Corpus variants for the transfer levers: the same record files under another mixture of sources.

    python -m mats_lib.data.variants scale build/data/audiotia_mini/sources.json tia_class_description=3
    # -> build/data/audiotia_mini/sources-tia_class_description_x3.json; train on it with
    #    --set data.corpus=build/data/audiotia_mini/sources-tia_class_description_x3.json

A variant is a manifest beside the original, pointing at the original JSONL files with scaled sampling
ratios (the per-step source draw of ``sampling.py``). The run's data fingerprint covers the manifest and the
files, so a variant trains into its own keyed run. `make data` rebuilds the corpus folder and removes variants:
write them again after a rebuild.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .io import write_json


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


def _factor(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: give source=factor")
    return name, float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    scale = sub.add_parser("scale", help="scale the sampling ratios of some sources")
    scale.add_argument("manifest", type=Path)
    scale.add_argument("factors", nargs="+", type=_factor, help="source=factor")
    args = parser.parse_args()
    print(scaled_manifest(args.manifest, dict(args.factors)))


if __name__ == "__main__":
    main()
