"""The study's one typed config. Defaults are the paper's settings; each field says where it comes from.

Sources: [cfg] the authors' released configs, [paper] the paper, [open] not recoverable, chosen here.
Presets live in ``experiments/{smoke,mini,paper}.yaml`` and only
list what differs from these defaults. Unknown keys and wrong types raise :class:`ConfigError`.

    cfg = load_config("mini", overrides={"train.max_steps": 50})
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional, Union

import yaml

from .paths import REPO_ROOT, project_path

EXPERIMENTS_DIR = REPO_ROOT / "experiments"


class ConfigError(ValueError):
    pass


@dataclass
class EncoderConfig:
    name: str = "msclap"
    """CLAP-role backend: msclap (MS-CLAP 2023, the paper's [cfg]), laion, or tagclap (mini stand-in)."""
    checkpoint: Optional[str] = None
    """Checkpoint of msclap (the 2023 .pth) or laion (the original .pt, or a Hugging Face ClapModel folder);
    never downloaded [open]."""
    tokenizer: Optional[str] = None
    """msclap / laion: folder of the text tower's tokenizer (GPT-2's / RoBERTa's: tokenizer.json, or vocab.json +
    merges.txt); neither checkpoint holds one and none is downloaded [open]."""
    pooling: str = "mean"
    """tagclap only: how YAMNet patch scores are pooled over a clip [open]."""


@dataclass
class LLMConfig:
    path: str = "vicuna-7b-v1.5"
    """Local HF folder of the frozen LLM; 'smollm2' = the packaged SmolLM2-135M-Instruct; 'tiny-random' =
    a 2-layer random Llama for tests. Vicuna-7B v1.5 in the paper (MATS-LLaMA) [cfg]."""
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    """Weights of the frozen LLM. auto: bf16 on GPUs and on CPUs with bf16 matrix units, else fp32 [open]."""
    lora_r: int = 8
    """LoRA rank [cfg]."""
    lora_alpha: int = 32
    """LoRA alpha [cfg]."""
    lora_dropout: float = 0.1
    """LoRA dropout [cfg]."""
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    """Modules adapted by LoRA [cfg]."""


@dataclass
class MapperConfig:
    kind: Literal["transformer", "mlp"] = "transformer"
    """The paper's transformer mapper [cfg], or ClipCap's MLP (mlp_ratio x d hidden units) [open]."""
    prefix_length: int = 40
    """Soft prefix tokens P fed to the LLM [cfg]."""
    num_layers: int = 8
    """Pre-LN transformer layers [cfg]."""
    num_heads: int = 8
    """Attention heads; must divide the embedding dim [cfg]."""
    mlp_ratio: float = 2.0
    """Transformer MLP width / model width [cfg]."""
    dropout: float = 0.0
    """Dropout inside the mapper's transformer [open]."""


@dataclass
class DataConfig:
    corpus: str = "???"
    """sources.json of the text-only corpus ({name: {file, ratio, task}}); AudioTIA-5M in the paper: give its path."""
    modality: Literal["text", "audio"] = "text"
    """'text': MATS, trained on CLAP text embeddings; 'audio': MATS-Audio, the audio-supervised control."""
    audio_records: str = "???"
    """modality=audio: folder of eval-format JSONL records (audio_id, output, task, instruction)."""
    audio_root: str = "???"
    """modality=audio: the data root that audio_id is relative to."""
    max_records_per_source: Optional[int] = None
    """Keep only the first N records of each source (smoke tests) [open]."""
    max_answer_tokens: int = 150
    """Answers are truncated to this many tokens before EOS [cfg]."""
    noise_variance: Union[float, Literal["auto"]] = 0.015
    """Variance of the Gaussian noise on the normalised text embedding [cfg]; 'auto' calibrates it to the
    encoder's modality gap: var = (1/c^2 - 1)/d with c the mean paired audio-text cosine [open]."""
    embeddings: Literal["cached", "on_the_fly"] = "cached"
    """cached: embed every caption once (disk cache); on_the_fly: embed each batch every step, as the
    authors' code does (for the speed benchmark)."""


@dataclass
class TrainConfig:
    batch_size: int = 12
    """Micro-batch per process [cfg] (x2 GPUs in the paper)."""
    grad_accum: int = 4
    """Micro-batches per optimizer step [cfg]."""
    max_steps: int = 90000
    """Optimizer steps; 90k x accum 4 = the paper's 360k micro-steps [cfg]."""
    lr: float = 3e-5
    """Peak learning rate [cfg] (GPT-2 variant 5e-5)."""
    weight_decay: float = 0.05
    """AdamW decay on weight matrices; none on biases and norms [cfg]."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    """AdamW betas [cfg]."""
    warmup_steps: int = 3000
    """Linear warm-up from warmup_start_lr, then cosine to 0 [cfg]."""
    warmup_start_lr: float = 1e-7
    """[cfg]"""
    grad_clip: Optional[float] = None
    """Gradient-norm clipping; not in the release [open]."""
    gradient_checkpointing: bool = False
    """Recompute the frozen LLM's activations in the backward pass: less GPU memory for more time, the same
    weights (not part of a run's key; tests/test_training.py checks the equality) [open]."""
    log_every: int = 10
    """Steps between logged metrics."""
    save_every: int = 5000
    """Steps between checkpoints (and one at the end)."""
    output_dir: str = "build/runs"
    """Checkpoints go to <output_dir>/<run name>."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto: the GPU of this process (cuda:LOCAL_RANK under torchrun) when there is one, else the CPU."""


@dataclass
class SantaConfig:
    """Santa and the memory bank at inference (the paper's Santa; the release's settings)."""

    memory_size: int = 5172
    """M: memory texts drawn at random from the training corpus [cfg] (0.1% of AudioTIA-5M); capped at the
    number of distinct training captions."""
    memory_fraction: Optional[float] = None
    """When set, M = round(fraction x distinct training captions) instead of memory_size (the paper's 0.1%
    is 0.001) [open]."""
    clusters: int = 100
    """K k-means clusters of the memory [cfg]."""
    lloyd_iterations: int = 10
    """Lloyd iterations of the k-means [cfg]."""
    retrieved: int = 32
    """L texts retrieved per clip [cfg]."""
    temperature: float = 10.0
    """Multiplies the similarities inside the softmax [cfg]."""
    lam: float = 0.3
    """lambda: the weight of the retrieved text in the mix [cfg]."""
    noise_variance: Optional[float] = None
    """Variance of the noise on the retrieved texts (and of the added_noise transfer); null: the run's own
    training noise (0 for a run trained without noise and for MATS-Audio). 0.015 in the paper [cfg]."""
    normalize_first: bool = True
    """False reproduces the release: the audio embedding is mixed before L2 normalisation (at its raw norm)."""
    retrieval: Literal["kmeans", "exact"] = "kmeans"
    """kmeans: nearest centroid, then its nearest members [cfg]; exact: the nearest over the whole memory."""
    duplicating_subsample: bool = False
    """True reproduces the release's memory draw: a shuffle that duplicates rows of the first M texts."""


@dataclass
class EvalConfig:
    """Which parts are evaluated, on which items, with which test-time draws."""

    transfers: list[str] = field(default_factory=lambda: ["plain", "memory", "santa"])
    """Applied to the audio embedding: plain (as is), added_noise (the training noise added to the audio embedding at test time),
    memory (DRCap), santa, mean_shift (the mean text-minus-audio offset of the encoder's audio-train pairs added,
    Liang et al. 2022: not the paper's, compared beside it). The paper's conditions pair them with a run: raw = plain on a model trained
    without noise; noise (CapDec) = plain on the noise-trained model; memory and Santa on the noise-trained model."""
    tasks: list[str] = field(default_factory=lambda: ["cls_opensfx", "cls_wesnoth", "cls_animals", "cls_desktop",
                                                      "cls_synth", "cls_vocal", "caption_scenes", "qa_scenes"])
    """Benchmark tasks (eval-part JSONL files under the data root)."""
    data_root: Optional[str] = None
    """The data root the tasks are read from: None is the run's own ``data.audio_root`` (MiniAudio); a paper
    benchmark is a root written by ``mats_lib.benchmarks.prepare`` (``python -m mats_lib.evaluate RUN --benchmark
    NAME --root PATH`` sets it)."""
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    """Evaluation seeds: the test-time draws (noise, Santa's noise) of stochastic transfers; deterministic
    transfers are evaluated once."""
    subset_seed: int = 0
    """Seed of the item subset (the same items for every run, transfer and seed: comparisons are paired)."""
    max_items: Optional[int] = None
    """Per task, a seeded random subset of at most this many items (null: every item) [open]."""
    batch_size: int = 16
    """Clips per generation batch (batched decoding equals one-by-one; a test checks it)."""
    bootstrap_resamples: int = 1000
    """Resamples of every bootstrap interval."""
    caption_metrics: list[str] = field(default_factory=lambda: ["BLEU", "METEOR", "ROUGE-L", "CIDEr-D", "SPICE"])
    """pycocoevalcap metrics (CIDEr-D always); METEOR starts a JVM."""
    scorer: str = "minilm"
    """Text tower that matches generated answers to class names, the same for every run (LTU/GAMA protocol)."""


@dataclass
class DecodingConfig:
    """Generation (the authors' released decoding settings): beam 4, no sampling, no-repeat 2-grams, repetition penalty 2."""

    num_beams: int = 4
    """[cfg]"""
    no_repeat_ngram_size: int = 2
    """[cfg]"""
    repetition_penalty: float = 2.0
    """[cfg]"""
    length_penalty: float = 1.0
    """[cfg]"""
    max_new_tokens: int = 200
    """[cfg]; the per-kind caps below apply when smaller."""
    max_new_tokens_classification: int = 200
    """Cap for classification answers (a label) [open]."""
    max_new_tokens_multilabel: int = 200
    """Cap for multi-label answers [open]."""
    max_new_tokens_caption: int = 200
    """Cap for captions [open]."""
    max_new_tokens_qa: int = 200
    """Cap for short QA answers [open]."""
    max_new_tokens_open: int = 200
    """Cap for open-ended answers [open]."""

    def max_tokens_for(self, kind: str) -> int:
        return min(self.max_new_tokens, getattr(self, f"max_new_tokens_{kind}"))


@dataclass
class TrackingConfig:
    experiment: str | None = None
    """MLflow experiment; None: mats-<preset>, the one experiment of a preset's training runs, evaluation parts and
    notebook runs. The tracking URI is MLFLOW_TRACKING_URI or sqlite:///mlflow.db."""
    enabled: bool = True


@dataclass
class Config:
    preset: str = "paper"
    seed: int = 0
    """The one seed of the run: Python, NumPy, torch, sampling, noise, init."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    mapper: MapperConfig = field(default_factory=MapperConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    santa: SantaConfig = field(default_factory=SantaConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def training_settings(self) -> dict:
        """The settings that change a trained model's weights (its key): inference sections, tracking and
        bookkeeping (where checkpoints go, how often they are logged or saved, the device) left out."""
        out = {k: v for k, v in self.to_dict().items() if k not in INFERENCE_SECTIONS + ("tracking", "preset")}
        out["train"] = {k: v for k, v in out["train"].items() if k not in TRAIN_BOOKKEEPING}
        return out

    def inference_params(self) -> dict[str, object]:
        """The flat santa.*, eval.* and decoding.* settings: what an evaluation's MLflow run logs as params."""
        return {k: v for k, v in self.flat().items() if k.split(".")[0] in INFERENCE_SECTIONS}

    def flat(self) -> dict[str, object]:
        """{'train.lr': 3e-5, ...}: MLflow params and papermill parameters."""
        out = {}
        for section, values in self.to_dict().items():
            if isinstance(values, dict):
                out.update({f"{section}.{k}": v for k, v in values.items()})
            else:
                out[section] = values
        return out


INFERENCE_SECTIONS = ("santa", "eval", "decoding")
TRAIN_BOOKKEEPING = ("log_every", "save_every", "output_dir", "device", "gradient_checkpointing")


# ------------------------------------------------------------------------------------------- checking
def _check_value(value, annotation, where: str):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any:
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for option in args:
            try:
                return _check_value(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(f"{where}: {value!r} fits none of {annotation}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
    if annotation is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        return [_check_value(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads "3e-5" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{where}: expected {getattr(annotation, '__name__', annotation)}, got "
                      f"{type(value).__name__} {value!r}")


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"unknown config key(s) {', '.join(sorted(f'{where}{k}' for k in unknown))}; "
                          f"known here: {', '.join(sorted(names))}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{where}{name}.")
        else:
            kwargs[name] = _check_value(value, hint, f"{where}{name}")
    return cls(**kwargs)


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def config_from_dict(values: dict) -> Config:
    return _build(Config, values, "")


def _dotted(overrides: dict) -> dict:
    nested: dict = {}
    for key, value in overrides.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def config_with_overrides(values: dict, overrides: dict | None = None) -> Config:
    """A config from a plain mapping (e.g. a checkpoint's config.yaml) with dotted ``overrides``, validated."""
    return config_from_dict(_merge(values, _dotted(overrides or {})))


def parse_overrides(items: list[str]) -> dict:
    """Command-line ``--set KEY=VALUE`` items as dotted overrides, each value read as YAML (``[a,b]``, ``null``)."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def load_config(preset_or_path: str | Path, overrides: dict | None = None) -> Config:
    """Load ``experiments/<preset>.yaml`` (or a YAML path) over the defaults, then dotted ``overrides``."""
    path = Path(preset_or_path)
    if not path.suffix:
        path = EXPERIMENTS_DIR / f"{preset_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.yaml")))
        raise ConfigError(f"config file not found: {path} (presets: {known})")
    values = yaml.safe_load(path.read_text()) or {}
    values = _merge(values, _dotted(overrides or {}))
    values.setdefault("preset", path.stem)
    return config_from_dict(values)


def resolve_path(value: str, what: str) -> Path:
    """A config path, relative to the repository root; '???' or a missing file is a clear error."""
    if value == "???":
        raise ConfigError(f"config {what} is not set: give the path (e.g. --set {what}=/data/...)")
    path = project_path(value)
    if not path.exists():
        raise ConfigError(f"config {what}: {path} does not exist" +
                          (" (build it with `make data`)" if "build/data" in str(path) else ""))
    return path
