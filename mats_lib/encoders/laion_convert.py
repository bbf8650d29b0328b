"""The original LAION-CLAP checkpoint (``630k-audioset-best.pt``, ``630k-best.pt``) as transformers' ``ClapModel``.

Facts about the original files (laion_clap 1.1.x: hook.py, clap_module/model.py, htsat.py, factory.py):
- a torch pickle ``{"epoch", "optimizer", "state_dict": {"module.<key>": tensor}}`` (trained with
  DistributedDataParallel, hence ``module.``); ``checkpoint_files.read_state_dict`` unwraps both;
- ``audio_branch``: HTS-AT (a Swin transformer over a 256x256 image folded from the 64-band log-mel of 10 s;
  4x4 patches with stride 4; HTSAT-tiny: 96 channels, depths 2-2-6-2, heads 4-8-16-32, window 8), whose window
  attention keeps q, k, v in one fused ``qkv`` layer (q first), plus its AudioSet tagging head (``tscam_conv``,
  ``head``), unused by the embedding;
- ``text_branch``: roberta-base (768 wide, 12 heads of 64, layer-norm epsilon 1e-5, RoBERTa position numbering),
  whose pooled output feeds the projection;
- ``audio_projection`` / ``text_projection``: Linear, ReLU, Linear (indices 0 and 2) into the 512-d joint space;
  ``audio_transform`` / ``text_transform``: MLP heads used only by the training loss;
- fixed front-end tensors stored with the weights: the STFT's DFT kernels and the mel filter bank;
- fused checkpoints (``*-fusion-best.pt``) add ``fusion_model`` / ``mel_conv2d`` layers to the patch embedding.

Sizes are read from tensor shapes (so tiny test checkpoints convert too); the two things no shape says (spectrogram
image 256, patch stride 4; text heads = width / 64, layer-norm epsilon 1e-5) are the released models' values.
Conversion is strict: every original key is renamed, split, or on the named :data:`IGNORED` list, and every
``ClapModel`` tensor is filled except the buffers it derives from its config (:data:`DERIVED`); errors name the key.
"""
from __future__ import annotations

import math
import re

import torch

from .checkpoint_files import CheckpointError

# original key -> ClapModel key; {s} stage, {b} block, * the rest of the name (weight, bias, running_mean, ...)
_BLOCK, _HF_BLOCK = "audio_branch.layers.{s}.blocks.{b}.", "audio_model.audio_encoder.layers.{s}.blocks.{b}."
RENAMES = (
    ("logit_scale_a", "logit_scale_a"),
    ("logit_scale_t", "logit_scale_t"),
    ("audio_branch.bn0.*", "audio_model.audio_encoder.batch_norm.*"),
    ("audio_branch.patch_embed.proj.*", "audio_model.audio_encoder.patch_embed.proj.*"),
    ("audio_branch.patch_embed.norm.*", "audio_model.audio_encoder.patch_embed.norm.*"),
    (_BLOCK + "norm1.*", _HF_BLOCK + "layernorm_before.*"),
    (_BLOCK + "attn.relative_position_bias_table", _HF_BLOCK + "attention.self.relative_position_bias_table"),
    (_BLOCK + "attn.proj.*", _HF_BLOCK + "attention.output.dense.*"),
    (_BLOCK + "norm2.*", _HF_BLOCK + "layernorm_after.*"),
    (_BLOCK + "mlp.fc1.*", _HF_BLOCK + "intermediate.dense.*"),
    (_BLOCK + "mlp.fc2.*", _HF_BLOCK + "output.dense.*"),
    ("audio_branch.layers.{s}.downsample.*", "audio_model.audio_encoder.layers.{s}.downsample.*"),
    ("audio_branch.norm.*", "audio_model.audio_encoder.norm.*"),
    ("audio_projection.0.*", "audio_projection.linear1.*"),
    ("audio_projection.2.*", "audio_projection.linear2.*"),
    ("text_branch.*", "text_model.*"),  # ClapTextModel keeps RoBERTa's layer names
    ("text_projection.0.*", "text_projection.linear1.*"),
    ("text_projection.2.*", "text_projection.linear2.*"),
)
# HTS-AT's fused attention input layer: rows [q; k; v], each as wide as the block
QKV = (_BLOCK + "attn.qkv.*", _HF_BLOCK + "attention.self.{part}.*", ("query", "key", "value"))
# original keys that ClapModel has no place for, and why dropping them changes no embedding
IGNORED = {
    "text_branch.embeddings.position_ids": "0, 1, 2, ... (a buffer older transformers saved); ClapModel builds its own",
    "audio_branch.spectrogram_extractor.stft.*": "the STFT's fixed DFT kernels: the front end is computed outside",
    "audio_branch.logmel_extractor.melW": "the fixed mel filter bank: the encoder checks it is its front end's",
    _BLOCK + "attn_mask": "shifted-window mask, a function of window and shift",
    _BLOCK + "attn.relative_position_index": "a function of the window size",
    "audio_branch.tscam_conv.*": "HTS-AT's AudioSet tagging head, not on the embedding path",
    "audio_branch.head.*": "HTS-AT's AudioSet tagging head, not on the embedding path",
    "audio_transform.*": "MLP head of the training loss only",
    "text_transform.*": "MLP head of the training loss only",
}
# ClapModel buffers computed from its config at construction (never read from a file)
DERIVED = ("text_model.embeddings.position_ids", "text_model.embeddings.token_type_ids",
           _HF_BLOCK + "attention.self.relative_position_index")
FUSION_MARKERS = ("fusion_model", "mel_conv2d", "mel_conv1d")
# not readable from any shape: the released HTS-AT input geometry and roberta-base's head width and epsilon
SPEC_SIZE, PATCH_STRIDE, TEXT_HEAD_WIDTH, TEXT_LAYER_NORM_EPS = 256, (4, 4), 64, 1e-5


def _regex(template: str) -> re.Pattern:
    body = re.escape(template)
    for name in ("s", "b"):
        body = body.replace(re.escape("{%s}" % name), rf"(?P<{name}>\d+)")
    body = body.replace(re.escape("{part}"), r"(?P<part>query|key|value)").replace(re.escape("*"), r"(?P<rest>.+)")
    return re.compile(body + "$")


def _fill(template: str, groups: dict) -> str:
    return template.replace("*", "{rest}").format(**groups)


def matches_any(key: str, templates) -> bool:
    """Whether ``key`` fits one of the templates (of :data:`IGNORED`, :data:`DERIVED`, ...)."""
    return any(_regex(t).match(key) for t in templates)


def original_name(hf_key: str) -> str | None:
    """The original key a ClapModel key comes from (for messages); None for a derived buffer."""
    if matches_any(hf_key, DERIVED):
        return None
    for original, hf in RENAMES + (QKV[:2],):
        found = _regex(hf).match(hf_key)
        if found:
            return _fill(original, {k: v for k, v in found.groupdict().items() if k != "part"})
    return hf_key


def _require(state: dict, key: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"LAION-CLAP checkpoint lacks {key}")
    return state[key]


def _check_supported(state: dict) -> None:
    fused = next((k for k in state if any(m in k for m in FUSION_MARKERS)), None)
    if fused:
        raise CheckpointError(f"fused LAION-CLAP checkpoint ({fused}): only unfused checkpoints are supported "
                              f"(630k-audioset-best.pt / 630k-best.pt); with exact 10 s clips fusion adds nothing")
    if "audio_branch.patch_embed.proj.weight" not in state:
        sample = next((k for k in state if k.startswith("audio_branch.")), "no audio_branch.* key at all")
        raise CheckpointError(f"not an HTS-AT LAION-CLAP checkpoint: lacks audio_branch.patch_embed.proj.weight "
                              f"(found {sample}); PANN audio towers are not supported")
    types = _require(state, "text_branch.embeddings.token_type_embeddings.weight").shape[0]
    if types != 1:
        raise CheckpointError(f"text_branch.embeddings.token_type_embeddings.weight has {types} rows: a BERT text "
                              f"tower (RoBERTa has 1); only RoBERTa text towers are supported")


def infer_config(state: dict):
    """The ``ClapConfig`` of an original (``module.``-stripped) LAION-CLAP state dict, from its tensor shapes."""
    from transformers import ClapConfig

    _check_supported(state)
    proj = state["audio_branch.patch_embed.proj.weight"]  # [channels, input channels, patch, patch]
    blocks: dict[int, set[int]] = {}
    for key in state:
        found = re.match(r"audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.", key)
        if found:
            blocks.setdefault(int(found[1]), set()).add(int(found[2]))
    stages = sorted(blocks)
    if not stages or stages != list(range(len(stages))):
        raise CheckpointError(f"LAION-CLAP checkpoint: audio_branch.layers.* stages {stages} are not 0..n-1")
    depths = [max(blocks[s]) + 1 for s in stages]
    tables = [_require(state, f"audio_branch.layers.{s}.blocks.0.attn.relative_position_bias_table") for s in stages]
    window = (math.isqrt(tables[0].shape[0]) + 1) // 2  # the table has (2 * window - 1)^2 rows
    if (2 * window - 1) ** 2 != tables[0].shape[0]:
        raise CheckpointError(f"audio_branch.layers.0.blocks.0.attn.relative_position_bias_table has "
                              f"{tables[0].shape[0]} rows, not (2 * window - 1)^2")
    channels = proj.shape[0]
    mlp = _require(state, "audio_branch.layers.0.blocks.0.mlp.fc1.weight").shape[0]
    words = _require(state, "text_branch.embeddings.word_embeddings.weight")  # [vocabulary, width]
    text_layers = {int(m[1]) for k in state for m in [re.match(r"text_branch\.encoder\.layer\.(\d+)\.", k)] if m}
    audio = dict(
        window_size=window, num_mel_bins=_require(state, "audio_branch.bn0.weight").shape[0], spec_size=SPEC_SIZE,
        patch_size=proj.shape[-1], patch_stride=PATCH_STRIDE, patch_embed_input_channels=proj.shape[1],
        patch_embeds_hidden_size=channels, hidden_size=channels * 2 ** (len(depths) - 1), depths=depths,
        num_attention_heads=[t.shape[1] for t in tables], mlp_ratio=mlp / channels, enable_fusion=False,
        hidden_act="gelu", layer_norm_eps=1e-5)
    text = dict(
        vocab_size=words.shape[0], hidden_size=words.shape[1], num_hidden_layers=len(text_layers),
        num_attention_heads=max(1, words.shape[1] // TEXT_HEAD_WIDTH),
        intermediate_size=_require(state, "text_branch.encoder.layer.0.intermediate.dense.weight").shape[0],
        max_position_embeddings=_require(state, "text_branch.embeddings.position_embeddings.weight").shape[0],
        type_vocab_size=1, layer_norm_eps=TEXT_LAYER_NORM_EPS, hidden_act="gelu",
        pad_token_id=1, bos_token_id=0, eos_token_id=2)  # RoBERTa's <pad>, <s>, </s>
    width = _require(state, "audio_projection.0.weight").shape[0]
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=width, projection_hidden_act="relu")


def _rename(key: str) -> list[str] | None:
    """The ClapModel key(s) of an original key ([q, k, v] for a fused qkv), or None when it is on no list."""
    found = _regex(QKV[0]).match(key)
    if found:
        return [_fill(QKV[1], {**found.groupdict(), "part": part}) for part in QKV[2]]
    for original, hf in RENAMES:
        found = _regex(original).match(key)
        if found:
            return [_fill(hf, found.groupdict())]
    return None


def convert_laion_state_dict(state: dict[str, torch.Tensor]):
    """(ClapConfig, ClapModel state dict) of an original LAION-CLAP state dict (keys with or without ``module.``).

    Raises :class:`CheckpointError` naming the key for an unknown key, a missing one, or a shape ClapModel
    does not have."""
    from transformers import ClapModel

    state = {k.removeprefix("module."): v for k, v in state.items()}
    config = infer_config(state)
    with torch.device("meta"):  # shapes only: nothing is allocated or initialised
        expected = {k: v.shape for k, v in ClapModel(config).state_dict().items()}
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        if matches_any(key, IGNORED):
            continue
        targets = _rename(key)
        if targets is None:
            raise CheckpointError(f"LAION-CLAP checkpoint: unexpected key {key} (not an unfused HTS-AT + RoBERTa "
                                  f"LAION-CLAP, or a layout this converter does not know)")
        parts = tensor.chunk(len(targets)) if len(targets) > 1 else [tensor]
        for target, part in zip(targets, parts):
            if target not in expected:
                raise CheckpointError(f"LAION-CLAP checkpoint: {key} has no place in ClapModel ({target}): "
                                      f"more layers than the inferred configuration")
            if part.shape != expected[target]:
                raise CheckpointError(f"LAION-CLAP checkpoint: {key} has shape {tuple(tensor.shape)}, which does not "
                                      f"fit {target} {tuple(expected[target])} (inconsistent widths)")
            part = part.contiguous().clone()  # q, k, v must not share storage (safetensors refuses that)
            converted[target] = part.float() if part.is_floating_point() else part
    missing = [k for k in expected if k not in converted and not matches_any(k, DERIVED)]
    if missing:
        raise CheckpointError(f"LAION-CLAP checkpoint lacks {original_name(missing[0])} (for ClapModel's "
                              f"{missing[0]}; {len(missing)} ClapModel tensors unfilled)")
    return config, converted


def clap_model_from_state_dict(state: dict[str, torch.Tensor]):
    """An eval-mode float32 ``ClapModel`` holding an original LAION-CLAP state dict, every weight from the file."""
    from transformers import ClapModel

    config, converted = convert_laion_state_dict(state)
    model = ClapModel(config)
    missing, unexpected = model.load_state_dict(converted, strict=False)
    left = [k for k in missing if not matches_any(k, DERIVED)]
    if left or unexpected:  # convert_laion_state_dict already checked both: a failure here is a bug
        raise CheckpointError(f"ClapModel left {left[:3]} unfilled and refused {unexpected[:3]}")
    return model.float().eval()
