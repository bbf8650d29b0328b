"""Where a config's training data lives, read in one place: the text corpus (a manifest of sources, each a JSONL
file with a sampling ratio) and the audio records of the audio-train part (one JSONL file per task, clips under
``data.audio_root``).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..config import Config, resolve_path
from .records import load_eval_records, load_train_records


def corpus_manifest(cfg: Config) -> tuple[Path, dict[str, dict]]:
    """(the manifest's path, {source: {file, ratio, task, records, ...}})."""
    path = resolve_path(cfg.data.corpus, "data.corpus")
    return path, json.loads(path.read_text())


def corpus_files(cfg: Config) -> dict[str, Path]:
    """{source: its JSONL file}, in source order."""
    path, manifest = corpus_manifest(cfg)
    return {name: path.parent / info["file"] for name, info in sorted(manifest.items())}


def corpus_records(cfg: Config) -> dict[str, list[dict]]:
    """{source: its validated training records}, in source order."""
    return {name: load_train_records(file)[0] for name, file in corpus_files(cfg).items()}


def audio_record_files(cfg: Config, pattern: str = "*.jsonl") -> list[Path]:
    """The audio-train part's record files (``cls_*.jsonl``: the labelled clips only), sorted."""
    return sorted(resolve_path(cfg.data.audio_records, "data.audio_records").glob(pattern))


def audio_records(cfg: Config, pattern: str = "*.jsonl") -> dict[str, list[dict]]:
    """{task file stem: its validated records, clips checked under data.audio_root}, sorted."""
    root = resolve_path(cfg.data.audio_root, "data.audio_root")
    return {path.stem: load_eval_records(path, root)[0] for path in audio_record_files(cfg, pattern)}


def data_inputs(cfg: Config, evaluation: bool = True) -> list[dict]:
    """The datasets a run reads, for MLflow's inputs: {name, path, digest, context}. The training corpus (its
    manifest and files hashed together) for text supervision, the audio records for audio supervision, and the
    MiniAudio build (its manifest, which hashes every clip) that evaluation reads. Only what is on disk."""
    from ..paths import project_path
    from ..provenance import file_sha256, settings_key

    found = []
    if cfg.data.modality == "text" and cfg.data.corpus not in (None, "", "???"):
        manifest, _ = corpus_manifest(cfg)
        files = [manifest, *corpus_files(cfg).values()]
        found.append({"name": manifest.parent.name, "path": manifest, "context": "training",
                      "digest": settings_key([(p.name, file_sha256(p)) for p in files])[:16]})
    audio_root = project_path(cfg.data.audio_root) if cfg.data.audio_root not in (None, "", "???") else None
    built = audio_root.parent / "manifest.json" if audio_root is not None else None
    if built is not None and built.is_file() and (evaluation or cfg.data.modality == "audio"):
        context = "training" if cfg.data.modality == "audio" and not evaluation else "evaluation"
        found.append({"name": audio_root.name, "path": built, "context": context, "digest": file_sha256(built)[:16]})
    return found
