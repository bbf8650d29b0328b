"""Command line of ``mats_lib.data.corpus_variants``: corpus variants (first built for the archived transfer-lever
study, docs/transfer_levers.md): another mixture of the sources, or the corpus without some labels.

    python -m mats_lib.data.corpus_variants scale build/data/audiotia_mini/sources.json tia_class_description=3
    python -m mats_lib.data.corpus_variants hold-out build/data/audiotia_mini/sources.json build/data/miniaudio/labels.json cls_synth

mats_lib.data.corpus_variants's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.corpus_variants import held_out_corpus, scaled_manifest


def source_factor(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: give source=factor")
    return name, float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    scale = sub.add_parser("scale", help="scale the sampling ratios of some sources")
    scale.add_argument("manifest", type=Path)
    scale.add_argument("factors", nargs="+", type=source_factor, help="source=factor")
    hold = sub.add_parser("hold-out", help="drop every record naming a label of one label set")
    hold.add_argument("manifest", type=Path)
    hold.add_argument("labels_json", type=Path)
    hold.add_argument("label_set")
    args = parser.parse_args()
    if args.command == "scale":
        print(scaled_manifest(args.manifest, dict(args.factors)))
    else:
        path = held_out_corpus(args.manifest, args.labels_json, args.label_set)
        removed = sum(v["removed_for_held_out_labels"] for v in json.loads(path.read_text()).values())
        print(f"{path} ({removed} records naming a label of {args.label_set} removed)")


if __name__ == "__main__":
    main()
