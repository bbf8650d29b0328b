"""The upstream LAION-CLAP model, built from ``build/reference/laion_clap/clap_module`` for the parity tests only.

The model files are loaded by path under a synthetic package name: the package's own ``__init__`` (and
``laion_clap/__init__``) pull in training loaders, hub downloads and the open_clip tokenizer, none of which the
model needs. ``clap_module/utils.py`` imports two packages that are absent here and unused on the model's path;
they get empty stand-ins (:data:`STUBS`) while the files load; afterwards neither the stand-ins nor the synthetic
package are left in ``sys.modules``.

Widths are tiny but every layer keeps its real name, so the original checkpoint layout is exercised:
- audio: HTS-AT with the real input geometry (256x256 spectrogram image from 64 mel bins, 4x4 patches, 4 stages,
  window 8) but 8 channels instead of HTSAT-tiny's 96 and depths (2, 2, 2, 2) instead of (2, 2, 6, 2);
- text: RoBERTa is fetched upstream with ``from_pretrained('roberta-base')``; here that call returns a one-layer model
  of the tiny config below. Its width stays 768 because the upstream text projection's input width is fixed at 768.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import torch

PACKAGE = "_upstream_laion_clap_module"
# module name -> what it must provide for the model files to import (they use none of it on the model's path)
STUBS = {"torchvision": {}, "torchvision.ops": {}, "torchvision.ops.misc": {"FrozenBatchNorm2d": object},
         "h5py": {}}
TINY_HTSAT = {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4], "window_size": 8}
TINY_ROBERTA = {"vocab_size": 400, "hidden_size": 768, "num_hidden_layers": 1, "num_attention_heads": 12,
                "intermediate_size": 32, "max_position_embeddings": 80, "type_vocab_size": 1,
                "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
_LOADED: dict[Path, types.SimpleNamespace] = {}


def default_reference() -> Path:
    from mats_lib.paths import project_path

    return project_path("build/reference")


@contextmanager
def _stubbed_imports():
    """Empty stand-ins for the absent modules of :data:`STUBS` while the model files load; afterwards the stand-ins
    and the synthetic package are gone from ``sys.modules`` (real modules imported meanwhile stay)."""
    # transformers probes for torchvision when it is first imported: import it (and the classes the model files
    # take from it) before a stand-in could mislead the probe.
    importlib.import_module("transformers.tokenization_utils_base")
    transformers = importlib.import_module("transformers")
    for name in ("BartModel", "BertModel", "RobertaModel"):
        getattr(transformers, name)  # lazy attributes: resolved now

    absent = [name for name in STUBS if importlib.util.find_spec(name.split(".")[0]) is None]
    for name in absent:
        stub = types.ModuleType(name, "empty stand-in for the upstream LAION-CLAP parity tests")
        stub.__path__ = []
        stub.__dict__.update(STUBS[name])
        sys.modules[name] = stub
    try:
        yield
    finally:
        for name in absent + [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            sys.modules.pop(name, None)


def load_upstream(reference: Path | None = None) -> types.SimpleNamespace:
    """The upstream ``model`` and ``htsat`` modules and the HTSAT-tiny model config (loaded once per reference)."""
    folder = Path(reference or default_reference()) / "laion_clap" / "clap_module"
    if folder in _LOADED:
        return _LOADED[folder]
    with _stubbed_imports():
        package = types.ModuleType(PACKAGE)
        package.__path__ = [str(folder)]  # a package without running its __init__.py
        sys.modules[PACKAGE] = package
        model = importlib.import_module(f"{PACKAGE}.model")
        htsat = importlib.import_module(f"{PACKAGE}.htsat")
    config = json.loads((folder / "model_configs" / "HTSAT-tiny.json").read_text())
    _LOADED[folder] = types.SimpleNamespace(model=model, htsat=htsat, config=config, folder=folder)
    return _LOADED[folder]


@contextmanager
def _tiny_towers(upstream):
    """While the upstream CLAP is constructed: a tiny HTS-AT and the tiny RoBERTa instead of the downloaded one."""
    from transformers import RobertaConfig, RobertaModel

    def tiny_htsat(audio_cfg, enable_fusion=False, fusion_type="None"):
        return upstream.htsat.HTSAT_Swin_Transformer(
            spec_size=256, patch_size=4, patch_stride=(4, 4), num_classes=audio_cfg.class_num, config=audio_cfg,
            enable_fusion=enable_fusion, fusion_type=fusion_type, **TINY_HTSAT)

    class TinyRoberta:
        @staticmethod
        def from_pretrained(name):
            assert name == "roberta-base", name
            return RobertaModel(RobertaConfig(**TINY_ROBERTA))

    saved = upstream.model.create_htsat_model, upstream.model.RobertaModel
    upstream.model.create_htsat_model, upstream.model.RobertaModel = tiny_htsat, TinyRoberta
    try:
        yield
    finally:
        upstream.model.create_htsat_model, upstream.model.RobertaModel = saved


def _randomise(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Every trained tensor random (biases and norms too, so a swapped or missed key shows); the fixed front-end
    kernels (STFT, mel bank: requires_grad False) and derived buffers stay as built."""
    def randn(t, scale=1.0, shift=0.0):
        return torch.randn(t.shape, generator=generator) * scale + shift

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.copy_(randn(module.weight, 0.1, 1.0))
                module.bias.copy_(randn(module.bias, 0.1))
            if isinstance(module, torch.nn.BatchNorm2d) and module.num_features == 64:  # bn0 on the dB mel image
                module.running_mean.copy_(randn(module.running_mean, 5.0, -40.0))
                module.running_var.copy_(randn(module.running_var, 20.0, 200.0).abs())
            elif isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.copy_(randn(module.running_mean, 0.1))
                module.running_var.copy_(randn(module.running_var, 0.1, 1.0).abs())
        for name, p in model.named_parameters():
            if not p.requires_grad or name.endswith(("norm1.weight", "norm2.weight", "LayerNorm.weight",
                                                     "norm.weight", "bn0.weight")):
                continue
            if p.ndim >= 2 and "embeddings" not in name and "relative_position" not in name:
                p.copy_(randn(p, p[0].numel() ** -0.5))  # ~unit-variance activations through every layer
            elif p.ndim >= 1 and not name.endswith(("norm1.bias", "norm2.bias", "LayerNorm.bias", "norm.bias")):
                p.copy_(randn(p, 0.1 if p.ndim == 1 else 1.0))
        model.logit_scale_a.fill_(2.5)
        model.logit_scale_t.fill_(3.0)


def build_upstream_clap(reference: Path | None = None, *, width: int = 512, seed: int = 0, fused: bool = False):
    """The upstream ``CLAP`` (HTS-AT + RoBERTa, unfused unless ``fused``), tiny towers, seeded random weights, eval."""
    upstream = load_upstream(reference)
    config = json.loads(json.dumps(upstream.config))
    config["embed_dim"] = TINY_HTSAT["embed_dim"] * 2 ** (len(TINY_HTSAT["depths"]) - 1)  # HTS-AT output width
    config["text_cfg"]["model_type"] = "roberta"
    torch.manual_seed(seed)
    with _tiny_towers(upstream):
        model = upstream.model.CLAP(**config, joint_embed_shape=width, enable_fusion=fused,
                                    fusion_type="aff_2d" if fused else "None")
    _randomise(model, torch.Generator().manual_seed(seed))
    return model.eval()


def save_as_original(model: torch.nn.Module, path: str | Path) -> Path:
    """Write ``model`` as the released files hold it: {"epoch", "state_dict": {"module.<key>": tensor}} (trained
    with DistributedDataParallel), including the text tower's ``embeddings.position_ids`` buffer that the
    transformers of the time saved (the upstream loader deletes it before loading)."""
    state = dict(model.state_dict())
    rows = model.text_branch.embeddings.position_embeddings.weight.shape[0]
    state["text_branch.embeddings.position_ids"] = torch.arange(rows)[None]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 1, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path


def write_random_laion_checkpoint(path: str | Path, *, width: int = 512, seed: int = 0, fused: bool = False,
                                  reference: Path | None = None) -> Path:
    """A random upstream-shaped original LAION-CLAP .pt at ``path`` (tiny towers, joint width ``width``)."""
    return save_as_original(build_upstream_clap(reference, width=width, seed=seed, fused=fused), path)
