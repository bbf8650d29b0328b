"""Pre-flight check: everything a run needs, verified before any GPU time is spent.

    python -m mats_lib.check --preset paper --set encoder.checkpoint=/ckpt/CLAP_weights_2023.pth \\
        --set llm.path=/models/vicuna-7b-v1.5 --set data.corpus=/data/AudioTIA-5M/sources.json
    make check PRESET=paper

Checks every path the config names (CLAP checkpoint, LLM folder, AudioTIA manifest and its files, audio
records and root) and its shape (the checkpoint's projection width against the encoder's, the LLM's hidden
size and tokenizer files, record fields on a sample of each file, a sample of audio files that must decode),
then estimates the GPU memory and wall time per GPU from the model sizes. Benchmark roots given with
``--benchmark NAME=PATH`` (repeatable) are read by their readers (the dataset's own layout, every record) and a
sample of their clips must decode. Prints every problem found, by name, and exits non-zero if there is any;
nothing is trained or downloaded.

    python -m mats_lib.check --preset paper --set ... --benchmark clotho=/data/clotho --benchmark esc50=/data/ESC-50
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config, resolve_path
from .paths import project_path

# The projection width of each real CLAP (MS-CLAP 2023: 1024-d; LAION-CLAP: 512-d), how each checkpoint format names
# the last layer of each projection (audio, text) and the text tower's token embedding (its rows bound the tokenizer):
# MS-CLAP's state dict (Projection.linear2 of audio_encoder / caption_encoder; a GPT-2 text tower), LAION's original
# .pt (audio_projection.2 / text_projection.2, possibly under "module."; a RoBERTa text tower) and transformers'
# ClapModel folder (audio_projection.linear2 / text_projection.linear2), which `mats_lib.cli.convert_laion` writes.
CLAP_WIDTH = {"msclap": 1024, "laion": 512}
CLAP_FORMATS = {
    ("msclap", "file"): ("the MS-CLAP state dict", "audio_encoder.projection.linear2.weight",
                         "caption_encoder.projection.linear2.weight", "caption_encoder.base.wte.weight"),
    ("laion", "file"): ("the original LAION-CLAP file", "audio_projection.2.weight", "text_projection.2.weight",
                        "text_branch.embeddings.word_embeddings.weight"),
    ("laion", "dir"): ("a Hugging Face ClapModel folder", "audio_projection.linear2.weight",
                       "text_projection.linear2.weight", "text_model.embeddings.word_embeddings.weight"),
}
SAMPLE_RECORDS = 200
SAMPLE_CLIPS = 5


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, what: str, detail: str) -> None:
        self.problems.append(f"{what}: {detail}")

    def note(self, what: str, detail: str) -> None:
        self.notes.append(f"{what}: {detail}")


def _given_path(value: str | None, what: str, report: Report, kind: str = "file") -> Path | None:
    if value in (None, "", "???"):
        report.problem(what, f"not set; give it with --set {what}=/path/to/{'folder' if kind == 'dir' else 'file'}")
        return None
    path = project_path(value)
    exists = path.is_dir() if kind == "dir" else path.is_file()
    if not exists:
        report.problem(what, f"{path} is not an existing {'folder' if kind == 'dir' else 'file'}")
        return None
    return path


# ------------------------------------------------------------------------------------------ the CLAP
def _checkpoint_shapes(path: Path) -> dict[str, tuple]:
    """Tensor shapes of a checkpoint: a torch file read with weights_only=True, or a Hugging Face folder's
    safetensors headers (no weights read)."""
    if path.is_dir():
        from safetensors import safe_open

        files = sorted(path.glob("*.safetensors"))
        if not (path / "config.json").is_file() or not files:
            raise ValueError(f"{path} is a folder without config.json and *.safetensors (not a Hugging Face model)")
        shapes = {}
        for file in files:
            with safe_open(str(file), "pt") as f:
                shapes.update({k: tuple(f.get_slice(k).get_shape()) for k in f.keys()})
        return shapes
    from .encoders.checkpoint_files import read_state_dict

    return {k: tuple(v.shape) for k, v in read_state_dict(path).items()}


def check_encoder(cfg: Config, report: Report) -> int | None:
    """The CLAP checkpoint exists in a format its backend reads, its audio and text projections have the encoder's
    width, and the tokenizer given for its text tower is real and fits it; returns the width."""
    name = cfg.encoder.name
    if name not in CLAP_WIDTH:
        report.note("encoder", f"{name} is a packaged stand-in (no checkpoint to check)")
        return None
    folder_ok = any(backend == name and kind == "dir" for backend, kind in CLAP_FORMATS)
    given = cfg.encoder.checkpoint
    if folder_ok and given not in (None, "", "???") and project_path(given).is_dir():
        path = _given_path(given, "encoder.checkpoint", report, kind="dir")
    else:
        path = _given_path(given, "encoder.checkpoint", report)
    rows = None
    if path is not None:
        rows = _check_checkpoint(name, path, report)
    _check_tokenizer(cfg, name, rows, report)
    return CLAP_WIDTH[name]


def _check_checkpoint(name: str, path: Path, report: Report) -> int | None:
    """Problems of the checkpoint at ``path``; returns the rows of its text tower's token embedding."""
    fmt, audio_key, text_key, embedding_key = CLAP_FORMATS[(name, "dir" if path.is_dir() else "file")]
    try:
        shapes = _checkpoint_shapes(path)
    except Exception as error:  # not a torch file, truncated, pickled objects weights_only refuses, a bad folder
        report.problem("encoder.checkpoint", f"{path} cannot be read as {fmt} of {name} ({type(error).__name__}: "
                                             f"{str(error)[:200]})")
        return None
    widths = {}
    for side, key in (("audio", audio_key), ("text", text_key)):
        if key not in shapes:
            report.problem("encoder.checkpoint", f"{path} has no {key} (not {fmt} of {name}?)")
        else:
            widths[side] = int(shapes[key][0])
    for side, width in widths.items():
        if width != CLAP_WIDTH[name]:
            report.problem("encoder.checkpoint", f"{path}: {side} projection is {width}-d, {name} is "
                                                 f"{CLAP_WIDTH[name]}-d")
    if len(widths) == 2 and set(widths.values()) == {CLAP_WIDTH[name]}:
        report.note("encoder", f"{name} checkpoint {path.name} is valid: {fmt}, projections {widths}")
    return int(shapes[embedding_key][0]) if embedding_key in shapes else None


def _check_tokenizer(cfg: Config, name: str, embedding_rows: int | None, report: Report) -> None:
    from .encoders.text_tokenizer import KEY, TokenizerError, check_tokenizer, load_text_tokenizer

    try:
        tokenizer = load_text_tokenizer(cfg.encoder.tokenizer, name)
        if embedding_rows is not None:
            check_tokenizer(tokenizer, cfg.encoder.tokenizer, embedding_rows)
    except TokenizerError as error:
        report.problem(KEY, str(error).removeprefix(f"{KEY}: "))
        return
    report.note(KEY, f"{type(tokenizer).__name__} with {len(tokenizer)} tokens, round trip checked")


# ------------------------------------------------------------------------------------------ the LLM
def check_llm(cfg: Config, report: Report) -> dict | None:
    """A local Hugging Face folder with config.json, weights and a tokenizer; returns its config."""
    if cfg.llm.path in ("smollm2", "tiny-random"):
        report.note("llm", f"{cfg.llm.path} is packaged (no folder to check)")
        return None
    folder = _given_path(cfg.llm.path, "llm.path", report, kind="dir")
    if folder is None:
        return None
    config_file = folder / "config.json"
    if not config_file.is_file():
        report.problem("llm.path", f"{folder} has no config.json (not a Hugging Face model folder)")
        return None
    config = json.loads(config_file.read_text())
    for needed in ("hidden_size", "num_hidden_layers", "vocab_size"):
        if not isinstance(config.get(needed), int):
            report.problem("llm.path", f"{config_file} has no integer {needed}")
    if not list(folder.glob("*.safetensors")) and not list(folder.glob("*.bin")):
        report.problem("llm.path", f"{folder} holds no weights (*.safetensors or *.bin)")
    if not any((folder / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")):
        report.problem("llm.path", f"{folder} holds no tokenizer (tokenizer.json / tokenizer.model)")
    report.note("llm", f"{folder.name}: {config.get('model_type')} with hidden size {config.get('hidden_size')}; "
                       f"LoRA on {cfg.llm.lora_targets}")
    return config


def llm_parameters(config: dict) -> int:
    """Parameters of a decoder-only transformer from its config (embeddings, attention, MLP, norms)."""
    h, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
    inter = config.get("intermediate_size", 4 * h)
    kv = h * config.get("num_key_value_heads", config.get("num_attention_heads", 1)) // max(
        config.get("num_attention_heads", 1), 1)
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * inter + 2 * h
    tied = config.get("tie_word_embeddings", False)
    return vocab * h * (1 if tied else 2) + layers * per_layer + h


# ------------------------------------------------------------------------------------------ data
def _sample_lines(path: Path, n: int) -> list[str]:
    with open(path, encoding="utf-8", errors="strict") as f:
        head = f.read(1)
        f.seek(0)
        if head == "[":  # a JSON array (AudioTIA-5M's own files): read it whole, it is the only way
            return [json.dumps(item) for item in json.load(f)[:n]]
        return [line for line in itertools.islice(f, n) if line.strip()]


def check_corpus(cfg: Config, report: Report) -> dict[str, tuple[list[dict], float]]:
    """Validates the first records of every source; returns the valid samples with their ratios."""
    from .data.records import RecordError, load_train_records

    samples: dict[str, tuple[list[dict], float]] = {}
    manifest = _given_path(cfg.data.corpus, "data.corpus", report)
    if manifest is None or cfg.data.modality != "text":
        return samples
    try:
        entries = json.loads(manifest.read_text())  # {source: {"file": ..., "ratio": ...}}, as load_sources reads it
    except (OSError, ValueError) as error:
        report.problem("data.corpus", f"{manifest} is not a JSON manifest ({error})")
        return samples
    if not isinstance(entries, dict) or not entries:
        report.problem("data.corpus", f"{manifest} lists no sources (expected {{name: {{file, ratio}}}})")
        return samples
    import tempfile

    for name, info in sorted(entries.items()):
        if not isinstance(info, dict) or not info.get("file") or not isinstance(info.get("ratio"), (int, float)):
            report.problem("data.corpus", f"{manifest}: source {name!r} needs a file and a numeric ratio")
            continue
        path = manifest.parent / info["file"]
        if not path.is_file():
            report.problem("data.corpus", f"source {name!r}: {path} not found")
            continue
        try:
            lines = _sample_lines(path, SAMPLE_RECORDS)
        except (UnicodeDecodeError, ValueError) as error:
            report.problem("data.corpus", f"source {name!r}: {path} is not UTF-8 JSON ({error})")
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as sample:
            sample.write("\n".join(lines) + "\n")
        try:
            samples[name] = load_train_records(sample.name)[0], float(info["ratio"])
        except RecordError as error:
            report.problem("data.corpus", f"source {name!r}: {path}, record {error.line}: {error.problem}")
        finally:
            Path(sample.name).unlink()
    report.note("data.corpus", f"{len(entries)} sources, the first {SAMPLE_RECORDS} records of each validated")
    return samples


def corpus_tokens_per_sample(cfg: Config, samples: dict[str, tuple[list[dict], float]], report: Report,
                             batches: int = 16, tokenizer=None) -> float | None:
    """Mean padded tokens per training sample (prompt, soft prefix, answer) of batches drawn from the sampled records
    at the corpus's ratios, with the LLM's own tokenizer (or the one given): what a step computes on. None when it
    cannot be measured."""
    if not samples or (tokenizer is None and cfg.llm.path in ("smollm2", "tiny-random")):
        return None
    import numpy as np
    from transformers import AutoTokenizer

    from .data.sampling import SourceSampler
    from .batches import training_batch

    if tokenizer is None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(resolve_path(cfg.llm.path, "llm.path")))
        except Exception as error:  # noqa: BLE001 - any loading failure only costs the estimate its measured length
            report.note("estimate", f"the tokenizer of llm.path does not load ({type(error).__name__}): tokens per "
                                    "sample taken at the answer cap")
            return None
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    sampler = SourceSampler({n: r for n, (r, _) in samples.items()}, {n: w for n, (_, w) in samples.items()},
                            np.random.default_rng(cfg.seed))
    per_sample = []
    for _ in range(batches):
        _, records = sampler.next_batch(cfg.train.batch_size)
        per_sample.append(padded_length(training_batch(tokenizer, records, cfg.data.max_answer_tokens), cfg))
    return float(np.mean(per_sample))


def padded_length(batch, cfg: Config) -> int:
    """Positions each sample of a training batch occupies: prompt head, soft prefix, padded tail and answer."""
    return batch.head_ids.shape[1] + cfg.mapper.prefix_length + batch.tail_ids.shape[1] + batch.answer_ids.shape[1]


def check_audio(cfg: Config, report: Report) -> None:
    """Audio records (MATS-Audio's training pairs; the noise calibration's pairs) and a sample that decodes."""
    from .audio import AudioError, load_audio
    from .data.records import RecordError, load_eval_records

    if cfg.data.modality != "audio" and cfg.data.noise_variance != "auto":
        return  # a text-only run with a fixed noise variance needs no audio
    what = "data.audio_records"
    records_dir = _given_path(cfg.data.audio_records, what, report, kind="dir")
    root = _given_path(cfg.data.audio_root, "data.audio_root", report, kind="dir")
    if records_dir is None or root is None:
        return
    files = sorted(records_dir.glob("*.jsonl"))
    if not files:
        report.problem(what, f"{records_dir} holds no *.jsonl record files")
        return
    clips = []
    for path in files:
        try:
            records, _ = load_eval_records(path, root)
        except RecordError as error:
            report.problem(what, str(error))
            continue
        clips += [root / r["audio_id"] for r in records[:SAMPLE_CLIPS]]
    for clip in clips[:SAMPLE_CLIPS]:
        try:
            load_audio(clip, 16000)
        except AudioError as error:
            report.problem("audio", str(error))


def check_benchmarks(benchmarks: dict[str, str], report: Report) -> None:
    """Each named benchmark root: its reader on the whole metadata, clips listed but absent, a sample that decodes."""
    from .audio import AudioError, load_audio
    from .benchmarks import get_benchmark
    from .data.records import RecordError

    for name, root in benchmarks.items():
        what = f"benchmark {name}"
        try:
            bench = get_benchmark(name)
        except KeyError as error:
            report.problem(what, error.args[0])
            continue
        root = Path(root).expanduser()
        if not root.is_dir():
            report.problem(what, f"{root} is not an existing folder")
            continue
        try:
            records, missing = bench.read(root)
        except (RecordError, FileNotFoundError) as error:
            report.problem(what, str(error))
            continue
        if missing:
            report.problem(what, f"{len(missing)} listed clip(s) not on disk (first: {root / missing[0]}); evaluate "
                                 f"with --allow-missing if that is expected")
        if not records:
            report.problem(what, "no clip of its metadata is on disk")
            continue
        for r in records[:SAMPLE_CLIPS]:
            try:
                load_audio(root / r["audio_id"], 16000)
            except AudioError as error:
                report.problem(what, str(error))
        report.note(what, f"{len(records)} items ({bench.split}), metric {bench.metric}")


# ------------------------------------------------------------------------------------------ the estimate
def estimate(cfg: Config, llm_config: dict | None, clap_width: int | None, report: Report,
             tokens_per_sample: float | None = None) -> dict | None:
    """GPU memory and wall time per GPU, from the model sizes (an estimate, stated with its assumptions), for
    ``tokens_per_sample`` as measured on the corpus, else an upper bound: every answer at its token cap."""
    if llm_config is None or not all(isinstance(llm_config.get(k), int) for k in ("hidden_size", "num_hidden_layers",
                                                                                    "vocab_size")):
        return None
    params = llm_parameters(llm_config)
    d, hidden, p = clap_width or 1024, llm_config["hidden_size"], cfg.mapper.prefix_length
    mapper = d * p * d + cfg.mapper.num_layers * (4 * d * d + 2 * cfg.mapper.mlp_ratio * d * d) + d * hidden
    lora = llm_config["num_hidden_layers"] * len(cfg.llm.lora_targets) * 2 * cfg.llm.lora_r * hidden
    trainable = mapper + lora
    measured = tokens_per_sample is not None
    # prompt head and tail, soft prefix, answer: measured, or an upper bound with every answer at its cap
    tokens = round(tokens_per_sample, 1) if measured else 30 + p + cfg.data.max_answer_tokens
    weights_gb = params * 2 / 1e9  # bf16 frozen weights
    optimizer_gb = trainable * 16 / 1e9  # fp32 weights, gradients and two AdamW moments
    activations_gb = cfg.train.batch_size * tokens * hidden * llm_config["num_hidden_layers"] * 34 / 1e9
    flops = 6 * params * tokens * cfg.train.batch_size * cfg.train.grad_accum * cfg.train.max_steps
    a100_bf16, utilisation = 312e12, 0.35
    hours = flops / (a100_bf16 * utilisation) / 3600
    out = {"llm_parameters": params, "trainable_parameters": trainable, "tokens_per_sample": tokens,
           "tokens_per_sample_from": "the corpus (padded batches, the LLM's tokenizer)" if measured
           else "the answer cap (upper bound)",
           "gpu_memory_gb_per_gpu": round(weights_gb + optimizer_gb + activations_gb, 1),
           "hours_on_one_a100": round(hours, 1),
           "assumptions": "bf16 frozen LLM, fp32 AdamW state for the trainable part, activations ~34 bytes per "
                          "token x hidden x layer (no gradient checkpointing), 6 x params x tokens FLOPs per "
                          "sample, A100 bf16 312 TFLOP/s at 35% utilisation"}
    report.note("estimate", f"{params / 1e9:.2f}B LLM parameters, {trainable / 1e6:.0f}M trainable; {tokens} tokens "
                            f"per sample ({out['tokens_per_sample_from']}); about "
                            f"{out['gpu_memory_gb_per_gpu']} GB per GPU at batch {cfg.train.batch_size}; about "
                            f"{out['hours_on_one_a100']} h on one A100 for {cfg.train.max_steps} steps "
                            "(divide by the number of GPUs)")
    return out


def check(cfg: Config, benchmarks: dict[str, str] | None = None) -> tuple[Report, dict | None]:
    report = Report()
    clap_width = check_encoder(cfg, report)
    llm_config = check_llm(cfg, report)
    samples = check_corpus(cfg, report)
    check_audio(cfg, report)
    check_benchmarks(benchmarks or {}, report)
    tokens = corpus_tokens_per_sample(cfg, samples, report) if llm_config else None
    return report, estimate(cfg, llm_config, clap_width, report, tokens)


if __name__ == "__main__":  # the command lives in mats_lib.cli.check
    from .cli.check import main

    main()
