"""Build the mini study's data: MiniAudio (benchmark) and AudioTIA-mini (text-only training corpus).

    python -m mats_lib.data.build [--seed 0] [--force]      # what `make data` runs

Deterministic from the seed: two builds give byte-identical manifests. A build whose manifest matches
the seed and the code of this package is up to date and is not redone.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ..assets import list_source_clips
from ..paths import data_dir
from .audiotia import build_audiotia
from .miniaudio import BenchmarkConfig, build_benchmark
from ..provenance import file_sha256
from .io import write_json
from .synth import check_tools

BENCHMARK_DIR, CORPUS_DIR = "miniaudio", "audiotia_mini"


def code_version() -> str:
    """The data code key (``code_keys``): an edit of the code that builds the data rebuilds it."""
    from ..code_keys import code_key

    return code_key("data")


def _file_hashes(root: Path) -> dict[str, str]:
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[1:2] != ("sources",) and rel.name != "manifest.json":
            files[str(rel)] = file_sha256(path)
    clips = json.loads((root / BENCHMARK_DIR / "clips.json").read_text())
    for clip in clips:  # the real clips, reached through the sources/ link
        if clip["clip_id"].startswith("sources/"):
            files[f"{BENCHMARK_DIR}/{clip['clip_id']}"] = file_sha256(root / BENCHMARK_DIR / clip["clip_id"])
    return dict(sorted(files.items()))


def is_up_to_date(root: Path, seed: int) -> bool:
    manifest = root / "manifest.json"
    if not manifest.exists():
        return False
    data = json.loads(manifest.read_text())
    return data.get("seed") == seed and data.get("code_version") == code_version() and all(
        (root / rel).exists() for rel in data.get("files", {}))


def build_all(seed: int = 0, root: Path | None = None, force: bool = False, verbose: bool = True,
              benchmark: BenchmarkConfig | None = None, corpus_options: dict | None = None) -> dict:
    """Build both datasets under ``root``; ``benchmark`` / ``corpus_options`` shrink them (tests)."""
    root = Path(root or data_dir())
    bench_cfg = benchmark or BenchmarkConfig(seed=seed)
    if bench_cfg.seed != seed:
        raise ValueError(f"benchmark config seed {bench_cfg.seed} differs from the build seed {seed}")
    if not force and benchmark is None and corpus_options is None and is_up_to_date(root, seed):
        counts = json.loads((root / "manifest.json").read_text())["counts"]
        if verbose:
            print(f"data in {root} is up to date (seed {seed}); nothing rebuilt")
            print_counts(counts)
        return counts
    check_tools()
    start = time.perf_counter()
    for sub in (BENCHMARK_DIR, CORPUS_DIR):
        shutil.rmtree(root / sub, ignore_errors=True)
    (root / "manifest.json").unlink(missing_ok=True)

    bench = build_benchmark(root / BENCHMARK_DIR, bench_cfg)
    scenes = json.loads((root / BENCHMARK_DIR / "scenes.json").read_text())
    labels = json.loads((root / BENCHMARK_DIR / "labels.json").read_text())
    clips = json.loads((root / BENCHMARK_DIR / "clips.json").read_text())
    eval_captions = [s["caption"] for s in scenes if s["split"] == "eval"]
    class_labels = sorted({l for name, v in labels.items() if name.startswith("cls_") for l in v["labels"]})
    sampled_speech = {Path(c["clip_id"]).name for c in clips if c["source"] == "speech"}
    transcripts = {c.raw_name for c in list_source_clips("speech") if c.path.name in sampled_speech}
    corpus = build_audiotia(root / CORPUS_DIR, seed, class_labels, eval_captions, transcripts, **(corpus_options or {}))

    counts = {"benchmark": bench, "audiotia_mini": corpus}
    write_json(root / "counts.json", counts)
    write_json(root / "manifest.json", {"seed": seed, "code_version": code_version(), "counts": counts,
                                        "files": _file_hashes(root)})
    if verbose:
        print(f"built {root} in {time.perf_counter() - start:.0f} s (seed {seed})")
        print_counts(counts)
    return counts


def print_counts(counts: dict) -> None:
    bench, corpus = counts["benchmark"], counts["audiotia_mini"]
    print("MiniAudio clips:", ", ".join(f"{split}: {v['real']} real ({v['real_classes']} classes) + "
                                       f"{v['synthetic']} synthetic" for split, v in bench["clips"].items()))
    print("MiniAudio scenes:", ", ".join(f"{k}: {v}" for k, v in bench["scenes"].items()))
    for key, n in bench["records"].items():
        print(f"  {key:28s} {n:6d}")
    if bench.get("train_captions_dropped_for_zero_shot"):
        print(f"  ({bench['train_captions_dropped_for_zero_shot']} audio-train scene captions dropped: an eval scene has them)")
    print(f"AudioTIA-mini: {corpus['total']} records ({corpus['removed_for_zero_shot']} dropped by the zero-shot filter)")
    for key, n in corpus["records"].items():
        print(f"  {key:28s} {n:6d}")


if __name__ == "__main__":  # the command lives in mats_lib.cli.build_data
    from ..cli.build_data import main

    main()
