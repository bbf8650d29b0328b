"""The paper's 16 benchmarks by name: reader, task (tag, kind), metric and split; ``prepare`` turns a dataset as
distributed into a data root the evaluation runner reads (eval/<task>.jsonl, labels.json, the audio by link).

    prepare("esc50", "/data/ESC-50-master")   # -> build/benchmarks/esc50/ ; then evaluate with
    # python -m mats_lib.evaluate RUN --benchmark esc50 --root /data/ESC-50-master
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from ..data.io import write_json, write_jsonl
from ..data.tasks import get_task, known_tasks, register_task
from ..paths import project_path
from ..provenance import settings_key
from . import captions, classification, qa

# Tasks only the paper-scale evaluation needs, with the release's tag for both ([open ended]: decode_MMAU*.yaml and
# decode_AIRBench_Chat.yaml at 45d6571). Registered here so that the training sources (data/tasks.py) stay as they are.
for _name, _kind in (("mmau", "qa"), ("airbench_sound", "open"), ("airbench_music", "open")):
    if _name not in known_tasks():
        register_task(_name, "[open ended]", _kind)


@dataclass(frozen=True)
class Benchmark:
    name: str
    task: str
    metric: str
    split: str
    reader: Callable[[Path], list[dict]]  # every record the metadata lists
    official_format: str | None = None  # the scorer whose input format the predictions are also written in
    paper: str = "not recorded"  # what is known offline of the paper's result on it (the paper's per-dataset numbers are not recorded offline)

    @property
    def kind(self) -> str:
        return get_task(self.task).kind

    def read(self, root: Path) -> tuple[list[dict], list[str]]:
        """(the records whose audio is on disk, the audio paths listed but absent)."""
        records = self.reader(root)
        on_disk = [(root / r["audio_id"]).is_file() for r in records]
        return ([r for r, here in zip(records, on_disk) if here],
                [r["audio_id"] for r, here in zip(records, on_disk) if not here])


BENCHMARKS = {b.name: b for b in (
    Benchmark("esc50", "esc50", "accuracy", "all 5 folds (2,000 clips)", classification.esc50),
    Benchmark("us8k", "us8k", "accuracy", "all 10 folds (8,732 clips)", classification.us8k),
    Benchmark("dcase17", "dcase17", "accuracy (a clip's answer may match any of its labels)",
              "task 4 evaluation set", classification.dcase17,
              paper="not recorded; 12% above the previous best zero-shot result"),
    Benchmark("vggsound", "vggsound", "accuracy", "the test rows of vggsound.csv", classification.vggsound,
              paper="not recorded; 7% above the previous best zero-shot result"),
    Benchmark("fsd50k", "fsd50k", "mAP", "the eval split (10,231 clips)", classification.fsd50k),
    Benchmark("tut", "tut", "accuracy", "TUT Acoustic Scenes 2017 evaluation set", classification.tut),
    Benchmark("gtzan", "gtzan", "accuracy", "all clips, or test_filtered.txt when present", classification.gtzan),
    Benchmark("beijing_opera", "beijing_opera", "accuracy", "all 236 clips", classification.beijing_opera),
    Benchmark("vocalsound", "vocalsound", "accuracy", "the official test split (datafiles/te.json)",
              classification.vocalsound),
    Benchmark("audiocaps", "audiocaps", "CIDEr-D / SPICE / SPIDEr over 5 references", "test", captions.audiocaps),
    Benchmark("clotho", "clotho", "CIDEr-D / SPICE / SPIDEr over 5 references", "evaluation (v2.1)", captions.clotho,
              paper="not recorded; peers' CIDEr: Qwen-Audio 0.441, Pengi 0.416, Audio Flamingo 0.465"),
    Benchmark("musiccaps", "musiccaps", "CIDEr-D / SPICE / SPIDEr", "AudioSet-eval clips (2,858)", captions.musiccaps,
              paper="not recorded; ROUGE-L 9.9 above the previous best"),
    Benchmark("clotho_aqa", "clotho_aqa", "accuracy (against the majority answer)", "test", qa.clotho_aqa),
    Benchmark("mmau", "mmau", "MMAU's own evaluation.py (string match against the choices)", "test-mini",
              qa.mmau, official_format="mmau",
              paper="not recorded; MATS-LLaMA 11.7% above SALMONN-13B, second to Qwen2-Audio"),
    Benchmark("airbench_sound", "airbench_sound", "AIR-Bench's GPT-4 judge (not run here)", "Chat: sound tasks",
              partial(qa.airbench, subset="airbench_sound"), official_format="airbench"),
    Benchmark("airbench_music", "airbench_music", "AIR-Bench's GPT-4 judge (not run here)", "Chat: music tasks",
              partial(qa.airbench, subset="airbench_music"), official_format="airbench"),
)}


def evaluation_overrides(name: str, root: str | Path, allow_missing: bool = False) -> tuple[Benchmark, dict]:
    """The benchmark, prepared from ``root``, and the settings that evaluate a run on every one of its items."""
    bench = get_benchmark(name)
    prepared = prepare(bench.name, root, allow_missing=allow_missing)
    return bench, {"eval.tasks": [bench.task], "eval.data_root": str(prepared), "eval.max_items": None}


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}") from None


AUDIO_LINK = "data"  # the prepared root's link to the dataset folder


class MissingAudioError(FileNotFoundError):
    """Clips the metadata lists that are not on disk (allowed only on request: YouTube-sourced sets are incomplete)."""


def prepare(name: str, root: str | Path, out: str | Path | None = None, allow_missing: bool = False) -> Path:
    """Read benchmark ``name`` from ``root`` (its published layout) and write a data root under ``out`` (default
    build/benchmarks/<name>): eval/<task>.jsonl (audio_id under the link ``data`` -> root), labels.json (the label
    set of a classification task: every label the metadata names), missing.txt (listed clips absent from disk) and
    prepared.json (the root, the counts and the records' key). Returns the prepared root."""
    bench = get_benchmark(name)
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: benchmark root {root} is not a folder; give --root the dataset's folder")
    records, missing = bench.read(root)
    if missing and not allow_missing:
        raise MissingAudioError(f"{name}: {len(missing)} clip(s) listed in the metadata under {root} are not on disk "
                                f"(first: {root / missing[0]}); pass --allow-missing to evaluate the {len(records)} "
                                f"present (YouTube-sourced sets are rarely complete; the list goes to missing.txt)")
    if not records:
        raise FileNotFoundError(f"{name}: none of the {len(missing)} clips listed under {root} is on disk "
                                f"(first expected: {missing[0] if missing else 'none listed'})")
    out = Path(out) if out else project_path(f"build/benchmarks/{name}")
    out.mkdir(parents=True, exist_ok=True)
    link = out / AUDIO_LINK
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not the link to a benchmark root; remove it")
    if link.is_symlink() and Path(os.readlink(link)) != root:
        link.unlink()  # the same benchmark prepared from another copy
    if not link.is_symlink():
        link.symlink_to(root, target_is_directory=True)
    rows = [{**r, "audio_id": f"{AUDIO_LINK}/{r['audio_id']}"} for r in records]
    write_jsonl(out / "eval" / f"{bench.task}.jsonl", rows)
    if bench.kind in ("classification", "multilabel"):
        labels = sorted({l for r in records for l in r.get("references", [r["output"]])})
        write_json(out / "labels.json", {bench.task: {"labels": labels}})
    (out / "missing.txt").write_text("".join(m + "\n" for m in missing))
    write_json(out / "prepared.json", {"benchmark": name, "task": bench.task, "root": str(root), "records": len(rows),
                                       "missing": len(missing), "metric": bench.metric, "split": bench.split,
                                       "records_key": settings_key({"rows": rows})})
    return out
