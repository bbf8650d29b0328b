"""MS-CLAP 2023, the paper's frozen CLAP, rebuilt here from its checkpoint: no ``msclap`` package at run time.

What carries over from the upstream release (msclap 1.3.4: ``models/clap.py``, ``models/htsat.py``,
``models/config.py``, ``configs/config_2023.yml``, ``CLAPWrapper.py``) is facts and settings, not code:

* Checkpoint (``CLAP_weights_2023.pth``): a torch file whose ``"model"`` entry is the state dict of the whole CLAP.
  Audio tower under ``audio_encoder.base.htsat.``, its projection under ``audio_encoder.projection.``; GPT-2 text tower
  under ``caption_encoder.base.``, its projection under ``caption_encoder.projection.``; and ``logit_scale``.
* Audio: 44.1 kHz mono clips of 7 s (308,700 samples). Upstream tiles short clips and crops long ones at a random
  offset; here the project's loader fixes the length (tiling, centre crop), and this backend does the same for
  in-memory waves of another length.
* Front end (torchlibrosa): STFT with a 1024-point Hann window, hop 320, centred with reflect padding; the power
  spectrogram onto 64 mel bands, then 10 log10 (ref 1, amin 1e-10, no top_db). HTSAT builds its mel bank from its own
  config module, not from the 2023 yml: sample rate 32,000 (although the audio is at 44,100), fmin 50, fmax 14,000.
  The mel bank and the STFT kernels are parameters stored in the checkpoint; they are loaded from it, as
  upstream's ``load_state_dict`` does.
* HTSAT: batch norm over the mel bins; the 965 x 64 log-mel stretched (bicubic, corners aligned) to 1024 frames and
  folded into a 256 x 256 image (four time segments stacked along frequency); 4 x 4 patches with stride 4, width 96;
  Swin stages of depths 2, 2, 6, 2 with 4, 8, 16, 32 heads, window 8, shifted windows in every other block, patch
  merging between stages; a final LayerNorm. The embedding (upstream's ``latent_output``, 768-d) is the mean of the
  final tokens. The AudioSet classifier after it (``tscam_conv``, ``head``) does not enter the embedding.
  transformers' ``ClapAudioEncoder`` (LAION-CLAP's HTSAT) is the same network: every layer has its counterpart, and
  only the fused ``qkv`` projection becomes three tensors (its rows: query, key, value). See ``_TO_CHECKPOINT``.
* Text: the caption plus ``" <|endoftext|>"``, GPT-2's byte-level BPE (it adds no special token of its own), padded
  on the right with ``"!"`` to 77 tokens (a longer caption is not truncated), the padding masked out. The text
  embedding is GPT-2's last hidden state at index (number of ids that are not 0) - 1. Id 0 is GPT-2's ``"!"``, the
  pad, so a ``"!"`` inside a caption moves that index back by one, as it does upstream.
* Projections (both towers): ``h = linear1(x)``, then ``LayerNorm(h + linear2(gelu(h)))``, both linears without
  bias (the dropout between them is off at inference); 1024-d in 2023. The base class then L2-normalises, as
  upstream's similarity does.

Sizes (HTSAT width, depths, heads, window; GPT-2 width, depth, vocabulary, positions; projection width) are read off
the checkpoint's shapes, so a small random checkpoint of the same layout loads too: ``tests/test_msclap_parity.py``
compares this module with the upstream code on such weights.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio import fix_length
from .base import AudioTextEncoder
from .checkpoint_files import CheckpointError, default_device, read_state_dict, require_checkpoint
from .text_tokenizer import KEY as TOKENIZER_KEY
from .text_tokenizer import TokenizerError, check_tokenizer, fingerprint, load_text_tokenizer

AUDIO_RATE = 44100
AUDIO_SECONDS = 7.0
CAPTION_TOKENS = 77  # tokens a caption is padded to
END_OF_TEXT = "<|endoftext|>"
PAD_TOKEN = "!"  # GPT-2's id 0
STFT_SETTINGS = {"n_fft": 1024, "hop_length": 320, "win_length": 1024, "window": "hann", "center": True,
                 "pad_mode": "reflect"}
# HTSAT's own config (models/config.py) builds the bank, not config_2023.yml: 32 kHz and 14 kHz, for 44.1 kHz audio
MEL_SETTINGS = {"sr": 32000, "n_fft": 1024, "n_mels": 64, "fmin": 50, "fmax": 14000, "ref": 1.0, "amin": 1e-10,
                "top_db": None}
HTSAT_IMAGE = 256  # HTSAT's square input image
GPT2_HEAD_WIDTH = 64  # every GPT-2 size has 64-wide heads (base: 768 = 12 x 64); head counts are not in the weights

HTSAT_PREFIX = "audio_encoder.base.htsat."
GPT2_PREFIX = "caption_encoder.base."
# Checkpoint keys that no embedding uses (full-match pattern: why). Everything else must be loaded.
UNUSED_KEYS = {
    r"audio_encoder\.base\.htsat\.layers\.\d+\.blocks\.\d+\.attn_mask": "shifted-window mask, recomputed at run time",
    r"audio_encoder\.base\.htsat\.(tscam_conv|head)\.(weight|bias)": "AudioSet classifier after the embedding",
    r"logit_scale": "similarity temperature, not part of an embedding",
    r"caption_encoder\.base\.h\.\d+\.attn\.(bias|masked_bias)": "GPT-2 causal-mask buffers saved by older transformers",
}

_MODEL_BLOCK, _CKPT_BLOCK = r"htsat\.layers\.(\d+)\.blocks\.(\d+)\.", HTSAT_PREFIX + r"layers.\1.blocks.\2."
# This module's parameter names -> the checkpoint's: the first pattern that matches renames the prefix.
_TO_CHECKPOINT = (
    (r"spectrogram\.", HTSAT_PREFIX + "spectrogram_extractor."),
    (r"logmel\.", HTSAT_PREFIX + "logmel_extractor."),
    (r"htsat\.batch_norm\.", HTSAT_PREFIX + "bn0."),
    (_MODEL_BLOCK + r"layernorm_before\.", _CKPT_BLOCK + "norm1."),
    (_MODEL_BLOCK + r"attention\.self\.(query|key|value)\.", _CKPT_BLOCK + "attn.qkv."),  # one fused tensor
    (_MODEL_BLOCK + r"attention\.self\.", _CKPT_BLOCK + "attn."),  # relative_position_bias_table and _index
    (_MODEL_BLOCK + r"attention\.output\.dense\.", _CKPT_BLOCK + "attn.proj."),
    (_MODEL_BLOCK + r"layernorm_after\.", _CKPT_BLOCK + "norm2."),
    (_MODEL_BLOCK + r"intermediate\.dense\.", _CKPT_BLOCK + "mlp.fc1."),
    (_MODEL_BLOCK + r"output\.dense\.", _CKPT_BLOCK + "mlp.fc2."),
    (r"htsat\.", HTSAT_PREFIX),  # patch_embed, layers.N.downsample, norm: the same names
    (r"audio_projection\.", "audio_encoder.projection."),
    (r"text_projection\.", "caption_encoder.projection."),
    (r"text\.", GPT2_PREFIX),
)


def checkpoint_name(key: str) -> str:
    """The checkpoint key that holds this module's tensor ``key`` (query, key and value share their ``qkv``)."""
    for pattern, replacement in _TO_CHECKPOINT:
        name, found = re.subn("^" + pattern, replacement, key, count=1)
        if found:
            return name
    raise KeyError(f"no checkpoint name for {key!r}")


def ignored_reason(key: str) -> str | None:
    return next((why for pattern, why in UNUSED_KEYS.items() if re.fullmatch(pattern, key)), None)


def front_end() -> tuple[nn.Module, nn.Module]:
    """(STFT power spectrogram, log-mel bank) at MS-CLAP's settings: [b, samples] -> [b, 1, frames, 64]."""
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    spectrogram = Spectrogram(**STFT_SETTINGS, freeze_parameters=True)
    return spectrogram, LogmelFilterBank(**MEL_SETTINGS, freeze_parameters=True)


class MSClapProjection(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.linear1 = nn.Linear(d_in, d_out, bias=False)
        self.linear2 = nn.Linear(d_out, d_out, bias=False)
        self.layer_norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.linear1(x)
        return self.layer_norm(h + self.linear2(F.gelu(h)))


class MSClapModel(nn.Module):
    """Both towers and their projections; the big ones are built on the meta device, to be filled by
    :func:`load_weights` (a tensor left unfilled cannot run), or with random weights on ``device`` (the GPU check's
    full-size checkpoints, through :func:`checkpoint_state`)."""

    def __init__(self, audio_config, text_config, dim: int, device: str | torch.device = "meta"):
        from transformers import GPT2Model
        from transformers.models.clap.modeling_clap import ClapAudioEncoder

        super().__init__()
        self.spectrogram, self.logmel = front_end()
        with torch.device(device):
            self.htsat = ClapAudioEncoder(audio_config)
            self.audio_projection = MSClapProjection(self.htsat.num_features, dim)
            self.text = GPT2Model(text_config)
            self.text_projection = MSClapProjection(text_config.n_embd, dim)

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        return self.logmel(self.spectrogram(waves))

    def audio_latent(self, mel: torch.Tensor) -> torch.Tensor:
        """[b, 1, frames, 64] log-mel -> HTSAT's mean final token (before the projection)."""
        return self.htsat(mel).pooler_output

    def audio_embedding(self, waves: torch.Tensor) -> torch.Tensor:
        return self.audio_projection(self.audio_latent(self.log_mel(waves)))

    def text_latent(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.text(input_ids=ids, attention_mask=mask).last_hidden_state
        last = (ids != 0).sum(-1) - 1  # upstream's rule: counts the ids that are not GPT-2's pad ("!", id 0)
        return hidden[torch.arange(ids.shape[0], device=ids.device), last]

    def text_embedding(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.text_projection(self.text_latent(ids, mask))


def read_sizes(state: dict[str, torch.Tensor], path: Path):
    """(transformers ClapAudioConfig, GPT2Config, projection width) read off the checkpoint's shapes."""
    from transformers import ClapAudioConfig, GPT2Config

    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise CheckpointError(f"{path}: missing key {key!r} (not an MS-CLAP 2023 state dict)")
        return tuple(state[key].shape)

    def per_stage(pattern: str) -> list[int]:  # keys matching pattern, by its first number: [stage 0, stage 1, ...]
        stages = [int(m.group(1)) for k in state if (m := re.fullmatch(pattern, k))]
        return [stages.count(i) for i in range(max(stages, default=-1) + 1)]

    block = HTSAT_PREFIX + "layers.{}.blocks.0."
    embed, _, patch, patch_w = shape(HTSAT_PREFIX + "patch_embed.proj.weight")
    depths = per_stage(re.escape(HTSAT_PREFIX) + r"layers\.(\d+)\.blocks\.\d+\.norm1\.weight")
    if not depths or 0 in depths:  # no stage, or a gap: name the first block that is missing
        shape(block.format(depths.index(0) if 0 in depths else 0) + "norm1.weight")
    tables = [shape(block.format(i) + "attn.relative_position_bias_table") for i in range(len(depths))]
    window = (math.isqrt(tables[0][0]) + 1) // 2  # a table has (2 window - 1)^2 rows, one column per head
    if (2 * window - 1) ** 2 != tables[0][0] or patch != patch_w:
        raise CheckpointError(f"{path}: a {tables[0][0]}-row position table / {patch}x{patch_w} patches is not "
                              f"HTSAT's layout")
    audio = ClapAudioConfig(
        patch_embeds_hidden_size=embed, depths=depths, num_attention_heads=[t[1] for t in tables], window_size=window,
        patch_size=patch, patch_stride=[patch, patch], spec_size=HTSAT_IMAGE, num_mel_bins=MEL_SETTINGS["n_mels"],
        mlp_ratio=shape(block.format(0) + "mlp.fc1.weight")[0] / embed,
        qkv_bias=block.format(0) + "attn.qkv.bias" in state, hidden_size=embed * 2 ** (len(depths) - 1),
        enable_fusion=False, enable_patch_layer_norm=True, hidden_act="gelu", drop_path_rate=0.0)
    vocab, width = shape(GPT2_PREFIX + "wte.weight")
    if width % GPT2_HEAD_WIDTH:
        raise CheckpointError(f"{path}: {GPT2_PREFIX}wte.weight is {width} wide, not a multiple of GPT-2's "
                              f"{GPT2_HEAD_WIDTH}-wide heads")
    text = GPT2Config(
        vocab_size=vocab, n_positions=shape(GPT2_PREFIX + "wpe.weight")[0], n_embd=width,
        n_layer=len(per_stage(re.escape(GPT2_PREFIX) + r"h\.(\d+)\.ln_1\.weight")), n_head=width // GPT2_HEAD_WIDTH,
        n_inner=shape(GPT2_PREFIX + "h.0.mlp.c_fc.weight")[1], bos_token_id=None, eos_token_id=None)
    return audio, text, shape("audio_encoder.projection.linear2.weight")[0]


def sizes_2023():
    """(ClapAudioConfig, GPT2Config, projection width) of the released MS-CLAP 2023: HTSAT 96 wide, depths 2-2-6-2,
    4-8-16-32 heads, window 8, 4 x 4 patches; GPT-2 base; 1024-d projections (what :func:`read_sizes` reads off the
    real file's shapes)."""
    from transformers import ClapAudioConfig, GPT2Config

    audio = ClapAudioConfig(
        patch_embeds_hidden_size=96, depths=[2, 2, 6, 2], num_attention_heads=[4, 8, 16, 32], window_size=8,
        patch_size=4, patch_stride=[4, 4], spec_size=HTSAT_IMAGE, num_mel_bins=MEL_SETTINGS["n_mels"], mlp_ratio=4.0,
        qkv_bias=True, hidden_size=768, enable_fusion=False, enable_patch_layer_norm=True, hidden_act="gelu",
        drop_path_rate=0.0)
    return audio, GPT2Config(bos_token_id=None, eos_token_id=None), 1024


def checkpoint_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors under the checkpoint's names (query, key and value fused back into ``qkv``): the inverse
    of :func:`load_weights`, for writing a file in the released layout."""
    groups: dict[str, list[torch.Tensor]] = {}
    for key, tensor in model.state_dict().items():
        groups.setdefault(checkpoint_name(key), []).append(tensor.detach().cpu())
    return {name: parts[0] if len(parts) == 1 else torch.cat(parts) for name, parts in groups.items()}


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> list[str]:
    """Fill every tensor of ``model`` from ``state`` (float32); returns the checkpoint keys left out, each matched by
    :data:`UNUSED_KEYS`. A missing, unknown or wrongly shaped key raises :class:`CheckpointError` naming it."""
    expected = model.state_dict()
    groups: dict[str, list[str]] = {}
    for key in expected:
        groups.setdefault(checkpoint_name(key), []).append(key)
    unknown = [k for k in state if k not in groups and ignored_reason(k) is None]
    missing = [k for k in groups if k not in state]
    for problem, keys in (("unknown key", unknown), ("missing key", missing)):
        if keys:
            raise CheckpointError(f"{path}: {problem} {keys[0]!r} ({len(keys)} in all; not an MS-CLAP 2023 state dict)")
    filled = {}
    for name, keys in groups.items():
        tensor = state[name]
        shapes = [tuple(expected[k].shape) for k in keys]
        want = shapes[0] if len(keys) == 1 else (sum(s[0] for s in shapes), *shapes[0][1:])  # qkv: q, k, v rows
        if tuple(tensor.shape) != want:
            raise CheckpointError(f"{path}: {name} has shape {tuple(tensor.shape)}; the widths read off the other "
                                  f"tensors need {want}")
        for key, part in zip(keys, tensor.split([s[0] for s in shapes]) if len(keys) > 1 else [tensor]):
            filled[key] = part.float() if part.is_floating_point() else part
    model.load_state_dict(filled, strict=True, assign=True)
    return sorted(k for k in state if k not in groups)


class MSClap(AudioTextEncoder):
    """Microsoft CLAP 2023 from ``checkpoint`` (the .pth), with GPT-2's tokenizer from ``tokenizer`` (a folder)."""

    name = "msclap"
    sample_rate = AUDIO_RATE
    clip_seconds = AUDIO_SECONDS

    def __init__(self, *, checkpoint: str | Path | None = None, tokenizer: str | Path | None = None,
                 device: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.checkpoint = require_checkpoint(checkpoint, self.name)
        self.tokenizer = load_text_tokenizer(tokenizer, self.name)
        state = read_state_dict(self.checkpoint)
        audio_config, text_config, self.dim = read_sizes(state, self.checkpoint)
        self.model = MSClapModel(audio_config, text_config, self.dim)
        self.ignored_keys = load_weights(self.model, state, self.checkpoint)
        check_tokenizer(self.tokenizer, tokenizer, embedding_rows=text_config.vocab_size)
        self.pad_id = self.tokenizer.convert_tokens_to_ids(PAD_TOKEN)
        eot = self.tokenizer(END_OF_TEXT, add_special_tokens=False)["input_ids"]
        if len(eot) != 1 or self.pad_id in (None, self.tokenizer.unk_token_id):  # one token each in GPT-2's vocabulary
            raise TokenizerError(f"{TOKENIZER_KEY}: {tokenizer} lacks {END_OF_TEXT!r} or {PAD_TOKEN!r}: not GPT-2's "
                                 f"tokenizer")
        self.positions = text_config.n_positions
        self.device = default_device(device)
        self.model.to(self.device).eval()

    def settings(self) -> dict:
        return {"checkpoint": self.checkpoint.name, "checkpoint_bytes": self.checkpoint.stat().st_size,
                "tokenizer": fingerprint(self.tokenizer), "sample_rate": self.sample_rate,
                "clip_seconds": self.clip_seconds}

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, attention mask) [b, max(77, longest)] as upstream prepares a 2023 caption."""
        rows = self.tokenizer([f"{t} {END_OF_TEXT}" for t in texts], add_special_tokens=False)["input_ids"]
        length = max(CAPTION_TOKENS, *map(len, rows))
        if length > self.positions:
            text = texts[max(range(len(rows)), key=lambda i: len(rows[i]))]
            raise ValueError(f"msclap: a caption of {length} tokens is past GPT-2's {self.positions} positions: "
                             f"{text[:80]!r}")
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask

    @torch.inference_mode()
    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenize(texts)
        return self.model.text_embedding(ids.to(self.device), mask.to(self.device)).float().cpu().numpy()

    @torch.inference_mode()
    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        n = int(round(self.clip_seconds * self.sample_rate))
        batch = torch.from_numpy(np.stack([fix_length(w, n) for w in waves]).astype(np.float32, copy=False))
        return self.model.audio_embedding(batch.to(self.device)).float().cpu().numpy()
