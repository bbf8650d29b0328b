"""Training runs and their checkpoints: names, folders, keys, saving, finding and loading.

A run folder is named from the preset, modality, encoder and seed, plus every training setting that
differs from the preset (``mini-text-tagclap-seed0-noise_variance=0.0``), so a no-noise or a longer run
never lands in the main run's folder. Each checkpoint holds the trainable weights (safetensors), the
optimizer / sampler / RNG state (``state.pt``, with the noise variance the run resolved), its config and
``key.json``: the run key (a hash of the training settings, the encoder's fingerprint, the data and the
training code) and the provenance. A run whose key no longer matches (new data, heads, code or settings) is
never used silently: training moves it aside and trains again, and evaluation refuses it with a message.

:func:`load_run` is the one way to read a run back: its model, its config and its noise variance.
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import save_file

from .checkpoints import load_torch_state
from .config import INFERENCE_SECTIONS, Config, config_from_dict, config_with_overrides, load_config, resolve_path
from .data.sources import audio_record_files, corpus_files, corpus_manifest
from .code_keys import changed_definitions, code_key, code_manifest
from .provenance import file_sha256, numeric_platform, provenance, settings_key, write_atomic, write_json_atomic
from .paths import project_path, report_path

KEY_FILE = "key.json"
# in the name already (or not a setting of the weights)
NAMED = ("seed", "data.modality", "encoder.name")
# The study's three kinds of run: text-only MATS, the no-noise control, MATS-Audio; and how each is made
RUN_KINDS = {"text": {}, "nonoise": {"data.noise_variance": 0.0}, "audio": {"data.modality": "audio"}}
MAKE_TARGET = {"text": "train", "nonoise": "train-nonoise", "audio": "train-audio"}


class StaleRunError(RuntimeError):
    pass


class MissingRunError(FileNotFoundError):
    pass


def _flat(settings: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value) -> str:
    """A folder-safe rendering of a setting; a long value keeps a hash of the whole so that two values sharing a
    prefix never share a folder, and a path shows its file stem with a hash of the whole path (two corpora may both
    be called sources.json)."""
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    is_path = isinstance(value, str) and "/" in value
    safe = "".join(c if c.isalnum() or c in "._+" else "_" for c in (Path(value).stem if is_path else text))
    if not is_path and len(safe) <= 24:
        return safe
    return f"{safe[:15]}~{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def run_name(cfg: Config) -> str:
    """<preset>-<modality>-<encoder>-seed<S>[-<setting>=<value>...]: settings that differ from the preset."""
    base = f"{cfg.preset}-{cfg.data.modality}-{cfg.encoder.name}-seed{cfg.seed}"
    try:
        preset = load_config(cfg.preset)
    except Exception:  # a config from a YAML path or a dict: no preset to differ from
        return base
    ours, theirs = _flat(cfg.training_settings()), _flat(preset.training_settings())
    changed = sorted(k for k in ours if k not in NAMED and ours[k] != theirs.get(k))
    if not changed:
        return base
    parts = [f"{k.split('.')[-1]}={_short(ours[k])}" for k in changed]
    if len(parts) > 3:  # keep names readable: many changes become one hash
        return f"{base}-cfg{settings_key({k: ours[k] for k in changed})[:8]}"
    return base + "-" + "-".join(parts)


def run_dir(cfg: Config, name: str | None = None) -> Path:
    return project_path(cfg.train.output_dir) / (name or run_name(cfg))


def run_config(preset: str, encoder: str, seed: int, kind: str, overrides: dict | None = None) -> Config:
    """The config of one run of the study's matrix: ``kind`` is text, nonoise or audio (``RUN_KINDS``)."""
    return load_config(preset, {"seed": seed, "encoder.name": encoder, **RUN_KINDS[kind], **(overrides or {})})


def run_kind(cfg: Config) -> str:
    if cfg.data.modality == "audio":
        return "audio"
    return "nonoise" if cfg.data.noise_variance == 0.0 else "text"


def finished_run(cfg: Config) -> Path:
    """The folder of the run ``cfg`` names, when it has finished; else an error naming its make target."""
    folder = run_dir(cfg)
    if not (folder / "final" / "trainable.safetensors").exists():
        raise MissingRunError(f"missing trained run {folder}: train it with `make {MAKE_TARGET[run_kind(cfg)]} "
                              f"PRESET={cfg.preset} SEED={cfg.seed} ENCODER={cfg.encoder.name}`")
    return folder


def data_fingerprint(cfg: Config) -> str:
    """Hash of the data a run trains on: the corpus manifest and its files (text), the audio records
    (audio, and the pairs 'auto' noise calibrates on), and the data root's build manifest when it has one
    (it holds the hash of every clip)."""
    files: list[tuple[str, Path]] = []  # (role/name, path): a clean clone elsewhere gets the same key
    if cfg.data.modality == "text":
        manifest, _ = corpus_manifest(cfg)
        files += [("corpus/manifest", manifest)] + [(f"corpus/{p.name}", p) for p in corpus_files(cfg).values()]
    if cfg.data.modality == "audio" or cfg.data.noise_variance == "auto":
        files += [(f"audio_records/{p.name}", p) for p in audio_record_files(cfg)]
        built = resolve_path(cfg.data.audio_root, "data.audio_root").parent / "manifest.json"
        if built.exists():
            files.append(("data_build_manifest", built))
    return settings_key([(name, file_sha256(path)) for name, path in files])


def training_key(cfg: Config, encoder_fingerprint: str) -> dict:
    """Everything that makes a run's weights, and its hash under 'key'."""
    parts = {"settings": cfg.training_settings(), "encoder": encoder_fingerprint, "data": data_fingerprint(cfg),
             "code": code_key("training")}
    return {"key": settings_key(parts), **parts}


def write_key(checkpoint: Path, key: dict) -> None:
    """The key, and beside it (not hashed: a run stays valid wherever it is evaluated) the numeric platform it
    was trained on, the LLM dtype 'auto' resolved to there, and the hash of each definition the code key covers
    (so that a stale run can say which definitions changed)."""
    from .model import resolve_device, resolve_dtype

    device = str(resolve_device("auto"))
    trained_on = {**numeric_platform(device), "llm_dtype": str(resolve_dtype(key["settings"]["llm"]["dtype"]))}
    write_json_atomic(checkpoint / KEY_FILE, {**key, "trained_on": trained_on, "code_definitions":
                                              code_manifest("training"), "provenance": provenance()})


def read_key(checkpoint: Path) -> dict | None:
    path = Path(checkpoint) / KEY_FILE
    return json.loads(path.read_text()) if path.exists() else None


# ------------------------------------------------------------------------------------------ checkpoints
def save_checkpoint(folder: Path, model, optimizer, scheduler, sampler, noise_gen: torch.Generator,
                    np_rng: np.random.Generator, step: int, cfg: Config, noise_variance: float,
                    key: dict | None = None) -> Path:
    """Trainable weights (safetensors) + optimizer/scheduler/sampler/RNG state + the resolved config."""
    tmp = folder.with_name(folder.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(model.trainable_state_dict(), str(tmp / "trainable.safetensors"))
    state = {"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "sampler": sampler.state_dict(), "torch_rng": torch.get_rng_state(), "noise_rng": noise_gen.get_state(),
             "numpy_rng": np_rng.bit_generator.state, "python_rng": random.getstate(), "noise_variance": noise_variance}
    if model.device.type == "cuda":  # LoRA dropout draws from the GPU's generator
        state["cuda_rng"] = torch.cuda.get_rng_state(model.device)
    torch.save(state, tmp / "state.pt")
    (tmp / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    if key is not None:
        write_key(tmp, key)
    # Swap in the new folder by renames only, so that a crash at any point leaves a complete checkpoint
    # (old or new) under the name, then move the pointer atomically.
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old)
    else:
        tmp.rename(folder)
    write_atomic(folder.parent / "latest", folder.name + "\n")
    return folder


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder, or a run folder (its latest checkpoint)."""
    path = Path(path)
    if (path / "latest").exists():
        path = path / (path / "latest").read_text().strip()
    if not (path / "trainable.safetensors").exists() or not (path / "state.pt").exists():
        raise FileNotFoundError(f"no checkpoint at {path} (expected trainable.safetensors and state.pt)")
    return path


def checkpoint_config(checkpoint: Path) -> Config:
    """The config a checkpoint was trained with."""
    return config_from_dict(yaml.safe_load((Path(checkpoint) / "config.yaml").read_text()))


def evaluation_config(run: str | Path, overrides: dict | None = None, base: Config | None = None) -> Config:
    """The run's config, with the inference sections (santa, eval, decoding) of ``base`` (e.g. a preset) when given,
    then dotted ``overrides``: the settings an evaluation of the run uses."""
    values = checkpoint_config(find_checkpoint(run)).to_dict()
    if base is not None:
        values.update({section: base.to_dict()[section] for section in INFERENCE_SECTIONS})
    return config_with_overrides(values, overrides)


def noise_variance_of(checkpoint: Path) -> float:
    """The noise variance the run trained with (``auto`` resolved; 0 for MATS-Audio and the no-noise control)."""
    return float(load_torch_state(Path(checkpoint) / "state.pt", "training state").get("noise_variance", 0.0))


@dataclass
class LoadedRun:
    model: "torch.nn.Module"  # MATS, in eval mode on the device asked for
    config: Config
    noise_variance: float
    checkpoint: Path


def load_run(run_or_checkpoint: str | Path, device: str = "auto") -> LoadedRun:
    """A training run (its final or latest checkpoint) read back: the model, the config it was trained with and
    its noise variance."""
    from .model import load_trained_model

    checkpoint = find_checkpoint(run_or_checkpoint)
    cfg = checkpoint_config(checkpoint)
    model = load_trained_model(checkpoint / "trainable.safetensors", cfg, device)
    return LoadedRun(model, cfg, noise_variance_of(checkpoint), checkpoint)


def latest_checkpoint(folder: Path) -> Path | None:
    pointer = folder / "latest"
    if not pointer.exists():
        return None
    ckpt = folder / pointer.read_text().strip()
    return ckpt if (ckpt / "trainable.safetensors").exists() else None


def run_state(folder: Path, key: str) -> tuple[str, Path | None]:
    """What training does with the run folder for a configuration keyed ``key``: ("reuse", its final checkpoint) when
    a finished run has that key, ("resume", its latest checkpoint) when an unfinished one does, ("replace", None) when
    the folder holds another key or none (it is set aside and trained again), ("train", None) when there is none."""
    if not folder.exists():
        return "train", None
    final, latest = folder / "final", latest_checkpoint(folder)
    if (read_key(final) or {}).get("key") == key and (final / "trainable.safetensors").exists():
        return "reuse", final
    if latest is not None and (read_key(latest) or {}).get("key") == key:
        return "resume", latest
    return "replace", None


def set_aside(folder: Path, reason: str) -> Path:
    """Move a stale run out of the way (never deleted: it may be wanted for comparison)."""
    target = folder.parent / ".stale" / f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(folder), target)
    print(f"run {folder.name}: {reason}; moved to {report_path(target)} and trained again")
    return target


def check_run_key(checkpoint: Path, expected: dict) -> None:
    """Refuse a checkpoint whose key differs from what its config, encoder, data and code give now."""
    found = read_key(checkpoint)
    if found is None:
        raise StaleRunError(f"{checkpoint} has no {KEY_FILE} (trained by older code): retrain it "
                            f"(make train, or delete the folder)")
    if found["key"] != expected["key"]:
        what = [k for k in ("settings", "encoder", "data", "code") if found.get(k) != expected.get(k)]
        if "code" in what and "code_definitions" in found:
            changed = changed_definitions(found["code_definitions"], code_manifest("training"))
            what[what.index("code")] = f"code ({', '.join(changed[:8])}{' ...' if len(changed) > 8 else ''})"
        raise StaleRunError(f"{checkpoint} was trained with other {', '.join(what) or 'inputs'} than the ones "
                            f"present now (key {found['key']} vs {expected['key']}): retrain it (make train) "
                            f"before evaluating")
