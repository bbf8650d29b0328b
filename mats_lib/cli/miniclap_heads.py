"""Command line of ``mats_lib.encoders.miniclap.fit``: train MiniCLAP's heads and choose their defaults (steps,
w, gate sigma) on the audio-train split only.

    python -m mats_lib.cli.miniclap_heads --seed 0   # `make miniclap`; writes build/miniclap/heads-seed0.*

mats_lib.encoders.miniclap.fit's docstring says what it computes and why.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from ..encoders.miniclap.fit import TrainSettings, build_heads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--guard-min-clips", type=int, default=TrainSettings.guard_min_clips,
                        help="hold out in the guard every source with at least this many audio-train clips")
    args = parser.parse_args()
    start = time.perf_counter()
    path = build_heads(args.seed, args.out, TrainSettings(guard_min_clips=args.guard_min_clips))
    info = json.loads(path.with_suffix(".json").read_text())
    print(f"miniclap heads: {path} (sha256 {info['sha256'][:16]})")
    print(f"  pairs: {info['pairs']['clips']} clips + {info['pairs']['mixtures']} mixtures; "
          f"chosen steps {info['steps']}, w {info['default_w']}, gate sigma {info['default_sigma']} "
          f"(fold score {info['selection']['best_score']:.3f}; best without the guard "
          f"{info['selection']['best_score_unguarded']:.3f})")
    print(f"  {time.perf_counter() - start:.0f} s on {platform.processor() or platform.machine()}")


if __name__ == "__main__":
    main()
