"""The upstream MS-CLAP code (msclap 1.3.4, unpacked in build/reference by `make reference`) on small random weights:
the reference that ``tests/test_msclap_parity.py`` holds ``mats_lib.encoders.msclap`` to. Test code only.

The package is never imported as ``msclap``: its ``__init__`` pulls in ``CLAPWrapper`` with torchaudio and hub
downloads. Its files are loaded by path under the synthetic package name ``_upstream_msclap``, and sys.modules is
put back as it was afterwards (``test_upstream_loader_leaves_no_trace``). The stubs, each minimal and each undone:

* ``torchaudio`` and ``torchaudio.transforms`` (empty modules, while loading): CLAPWrapper imports them at the top; only
  its file reader and resampler use them, and these tests never call either.
* ``AutoModel`` of upstream ``models/clap.py`` (during construction): gives a GPT-2 built from a small ``GPT2Config``
  instead of downloading ``gpt2``.
* the defaults of ``HTSAT_Swin_Transformer.__init__`` in upstream ``models/htsat.py`` (during construction): small
  widths and depths; upstream builds HTSAT with those defaults, the full 2023 size.
* ``AutoTokenizer`` of upstream ``CLAPWrapper.py`` (during construction): the tokenizer folder the test names, with
  ``encode_plus`` set on it: transformers 5 removed that method; for one text it was the tokenizer's call.
* ``CLAP`` of upstream ``CLAPWrapper.py`` (during construction): upstream's class with the small towers' widths and
  the checkpoint's projection width in place of config_2023.yml's (768, 768, 1024).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import math
import sys
import types
import warnings
from pathlib import Path

import torch
import yaml

PACKAGE = "_upstream_msclap"
# Small sizes at the real layer names: HTSAT's four stages (two blocks each, so shifted windows run) and GPT-2.
TINY_HTSAT = {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4]}
TINY_GPT2 = {"n_embd": 64, "n_layer": 2, "n_head": 1, "vocab_size": 400, "n_positions": 128}


def reference_root(root: str | Path | None = None) -> Path:
    from mats_lib.paths import project_path

    root = Path(root) if root is not None else project_path("build/reference")
    if not (root / "msclap" / "models" / "htsat.py").is_file():
        raise FileNotFoundError(f"{root} lacks the upstream msclap code: run `make reference`")
    return root


def _exec_file(name: str, path: Path, package: bool = False) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if package else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=None)
def upstream(root: Path) -> types.SimpleNamespace:
    """The upstream modules (clap, htsat, htsat's config, CLAPWrapper) and config_2023.yml, loaded once."""
    from transformers import logging as hf_logging

    src = root / "msclap"
    def ours(name: str) -> bool:  # the synthetic package and the stubs: nothing else is touched
        return name.split(".")[0] in (PACKAGE, "torchaudio")

    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    verbosity = hf_logging.get_verbosity()
    try:
        with warnings.catch_warnings():  # CLAPWrapper switches every warning off at import
            audio_stub, transforms_stub = types.ModuleType("torchaudio"), types.ModuleType("torchaudio.transforms")
            audio_stub.transforms = transforms_stub
            sys.modules.update({"torchaudio": audio_stub, "torchaudio.transforms": transforms_stub})
            package = types.ModuleType(PACKAGE)
            package.__path__ = [str(src)]  # a bare package: its __init__ (CLAPWrapper, downloads) never runs
            sys.modules[PACKAGE] = package
            _exec_file(f"{PACKAGE}.models", src / "models" / "__init__.py", package=True)
            wrapper = _exec_file(f"{PACKAGE}.CLAPWrapper", src / "CLAPWrapper.py")
            found = types.SimpleNamespace(clap=sys.modules[f"{PACKAGE}.models.clap"],
                                          htsat=sys.modules[f"{PACKAGE}.models.htsat"],
                                          config=sys.modules[f"{PACKAGE}.models.config"], wrapper=wrapper)
    finally:
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(saved)
        hf_logging.set_verbosity(verbosity)  # CLAPWrapper sets transformers' logging to errors only
    found.config_2023 = yaml.safe_load((src / "configs" / "config_2023.yml").read_text())
    return found


@contextlib.contextmanager
def construction_stubs(up, *, htsat=TINY_HTSAT, gpt2=TINY_GPT2, tokenizer: str | Path | None = None):
    """Small towers (and the given tokenizer folder) for upstream constructors; every name restored on exit."""
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    def gpt2_model(name, *args, **kwargs):
        assert name == "gpt2", name
        return GPT2Model(GPT2Config(**gpt2, bos_token_id=None, eos_token_id=None))

    def tokenizer_from(name, *args, **kwargs):
        tok = AutoTokenizer.from_pretrained(str(tokenizer), local_files_only=True)
        tok.encode_plus = tok.__call__  # transformers 5 dropped encode_plus; for one text it was __call__
        return tok

    # HTSATWrapper builds HTSAT with its defaults (and HTSAT names its own class in super()): its defaults change
    init = up.htsat.HTSAT_Swin_Transformer.__init__
    names = [p.name for p in inspect.signature(init).parameters.values() if p.default is not inspect.Parameter.empty]
    small = tuple(htsat.get(name, default) for name, default in zip(names, init.__defaults__))
    with contextlib.ExitStack() as stack:
        stack.enter_context(_setattr(up.clap, "AutoModel", types.SimpleNamespace(from_pretrained=gpt2_model)))
        stack.enter_context(_setattr(init, "__defaults__", small))
        if tokenizer is not None:
            auto_tokenizer = types.SimpleNamespace(from_pretrained=tokenizer_from)
            stack.enter_context(_setattr(up.wrapper, "AutoTokenizer", auto_tokenizer))
        yield


@contextlib.contextmanager
def _setattr(owner, name: str, value):
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def randomize_(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every float weight and statistic drawn at random (seeded), so that no mapping error hides behind an init of
    ones or zeros; the front end's STFT kernels and mel bank and the shifted-window masks are kept (computed)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            if not tensor.is_floating_point() or name.endswith("attn_mask") or "_extractor." in name:
                continue
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith("running_var"):
                tensor.copy_(0.5 + noise.abs())
            elif tensor.ndim == 1 and name.endswith("weight"):  # norm scales
                tensor.copy_(1 + 0.2 * noise)
            elif tensor.ndim <= 1:  # biases, running means, logit_scale
                tensor.copy_(0.2 * noise)
            else:
                tensor.copy_(noise / math.sqrt(tensor[0].numel()))
    return model


def build_upstream_clap(root: str | Path | None = None, *, width: int = 32, seed: int = 0, htsat=TINY_HTSAT,
                        gpt2=TINY_GPT2) -> torch.nn.Module:
    """Upstream's CLAP at the 2023 settings (config_2023.yml) with small towers and random weights, in eval mode."""
    up = upstream(reference_root(root))
    cfg = up.config_2023
    with construction_stubs(up, htsat=htsat, gpt2=gpt2):
        torch.manual_seed(seed)
        model = up.clap.CLAP(
            audioenc_name=cfg["audioenc_name"], sample_rate=cfg["sampling_rate"], window_size=cfg["window_size"],
            hop_size=cfg["hop_size"], mel_bins=cfg["mel_bins"], fmin=cfg["fmin"], fmax=cfg["fmax"],
            classes_num=cfg["num_classes"], out_emb=htsat["embed_dim"] * 2 ** (len(htsat["depths"]) - 1),
            text_model=cfg["text_model"], transformer_embed_dim=gpt2["n_embd"], d_proj=width)
    return randomize_(model, seed).eval()


def write_random_msclap_checkpoint(path: str | Path, *, width: int = 1024, seed: int = 0,
                                   root: str | Path | None = None) -> Path:
    """A random upstream-shaped MS-CLAP checkpoint in the 2023 file's format (``{"model": state_dict}``, which
    CLAPWrapper reads): small towers, projections ``width`` wide. Needs build/reference (`make reference`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": build_upstream_clap(root, width=width, seed=seed).state_dict()}, path)
    return path


def upstream_wrapper(checkpoint: str | Path, tokenizer: str | Path, root: str | Path | None = None, *,
                     htsat=TINY_HTSAT, gpt2=TINY_GPT2):
    """Upstream's CLAPWrapper (version 2023, CPU) reading ``checkpoint`` as it reads the real file, with the GPT-2
    tokenizer of the folder ``tokenizer`` (to which it adds its pad token itself)."""
    up = upstream(reference_root(root))
    width = torch.load(checkpoint, map_location="cpu")["model"]["audio_encoder.projection.linear2.weight"].shape[0]
    small = {"out_emb": htsat["embed_dim"] * 2 ** (len(htsat["depths"]) - 1), "transformer_embed_dim": gpt2["n_embd"],
             "d_proj": width}
    with construction_stubs(up, htsat=htsat, gpt2=gpt2, tokenizer=tokenizer), \
            _setattr(up.wrapper, "CLAP", lambda **settings: up.clap.CLAP(**{**settings, **small})):
        return up.wrapper.CLAPWrapper(model_fp=str(checkpoint), version="2023", use_cuda=False)
