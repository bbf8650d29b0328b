"""LAION-CLAP (Wu, Chen et al., ICASSP 2023; HTS-AT audio tower, RoBERTa text tower, 512-d joint space) in the CLAP
role, run as transformers' ``ClapModel``.

``encoder.checkpoint`` is either an original LAION file (``630k-audioset-best.pt``, ``630k-best.pt``: converted in
memory by ``laion_convert``) or a Hugging Face ClapModel folder (``python -m mats_lib.cli.convert_laion`` writes one).
The RoBERTa tokenizer comes from ``encoder.tokenizer``; a folder that holds tokenizer files may stand in for it.

What the upstream release (laion_clap 1.1.x: hook.py, training/data.py, htsat.py, model_configs/HTSAT-tiny.json)
does to a clip, and what is kept here:
- mono 48 kHz, 10 s = 480 000 samples; each clip goes to 16 bit and back (clip to [-1, 1], times 32767, truncated to
  int16, divided by 32767) before its features: kept;
- unfused models repeat-and-pad short clips and crop long ones at a random offset: here every clip arrives exactly
  10 s long (the project's loader tiles short clips and centre-crops long ones), so no random crop ever happens;
- front end: power STFT, 1024-sample periodic Hann window, hop 480, centred frames with reflection padding (1001
  frames); 64 mel bands, 50 Hz to 14 kHz, Slaney scale and area normalisation (librosa's defaults); 10 * log10 of
  the power floored at 1e-10, no top-dB clipping. Upstream computes this in float32 inside the audio tower; here it
  is computed in float64 on the model's device (:func:`log_mel`). Measured against upstream: within 60 dB of a clip's
  peak the two agree to 1e-3 dB; far below the peak (down at the 1e-10 floor) upstream's own float32 rounding
  leaves up to ~0.2 dB (tests/test_laion_parity.py);
- text: the roberta-base tokenizer, at most 77 tokens (``<s>`` ... ``</s>``, truncated); upstream pads every caption
  to 77, here to the batch's longest, which the attention mask makes equivalent (tested);
- outputs: the projection heads' outputs (Linear, ReLU, Linear), before L2 normalisation (the base class normalises;
  ``raw_audio_norms`` sees these). Fused checkpoints are refused (``laion_convert``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..audio import fix_length
from .base import AudioTextEncoder
from .checkpoint_files import CheckpointError, default_device, read_state_dict, require_checkpoint
from .text_tokenizer import check_tokenizer, fingerprint, load_text_tokenizer

LAION_SAMPLE_RATE, CLIP_SECONDS = 48_000, 10.0
FRONT_END = {"n_fft": 1024, "window": "hann (periodic)", "hop": 480, "center": "reflect", "mel_bins": 64,
             "fmin": 50.0, "fmax": 14_000.0, "mel": "slaney scale, slaney norm", "db_floor": 1e-10,
             "precision": "float64"}
MAX_TOKENS = 77
WIDTH = 512  # LAION-CLAP's joint space
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json")


def mel_filters():
    """[513, 64] float64: the Slaney mel bank of :data:`FRONT_END` (librosa's ``filters.mel`` defaults)."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(num_frequency_bins=FRONT_END["n_fft"] // 2 + 1, num_mel_filters=FRONT_END["mel_bins"],
                           min_frequency=FRONT_END["fmin"], max_frequency=FRONT_END["fmax"],
                           sampling_rate=LAION_SAMPLE_RATE, norm="slaney", mel_scale="slaney")


def int16_round_trip(wave: np.ndarray) -> np.ndarray:
    """The upstream quantisation of every clip: to 16 bit (clipped, truncated toward zero) and back."""
    return ((np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def log_mel(waves, filters):
    """[b, n] waves (a torch tensor) -> [b, 1, frames, 64] float32 log-mel in dB, the audio tower's input."""
    import torch

    waves = waves.to(torch.float64)  # float64: upstream's float32 STFT is the error floor, not this one
    window = torch.hann_window(FRONT_END["n_fft"], periodic=True, dtype=torch.float64, device=waves.device)
    spec = torch.stft(waves, FRONT_END["n_fft"], FRONT_END["hop"], window=window, center=True, pad_mode="reflect",
                      return_complex=True)
    power = spec.real**2 + spec.imag**2  # [b, freq, frames]
    mel = torch.einsum("bft,fm->btm", power, filters.to(device=waves.device, dtype=torch.float64))
    return (10.0 * torch.log10(mel.clamp(min=FRONT_END["db_floor"]))).float()[:, None]


class LaionClap(AudioTextEncoder):
    name = "laion"
    sample_rate = LAION_SAMPLE_RATE
    clip_seconds = CLIP_SECONDS

    def __init__(self, *, checkpoint=None, tokenizer=None, device: str | None = None, **kwargs):
        super().__init__(**kwargs)
        import torch

        path = require_checkpoint(checkpoint, "laion", folder_ok=True)
        self.device = default_device(device)
        # The tokenizer first (a missing one fails before the weights load): encoder.tokenizer, else the folder's own
        holds_tokenizer = path.is_dir() and any((path / f).is_file() for f in TOKENIZER_FILES)
        source = path if tokenizer in (None, "", "???") and holds_tokenizer else tokenizer
        self.tokenizer = load_text_tokenizer(source, "laion")  # raises what to give when neither is there
        if path.is_dir():
            model, self.format = _load_folder(path), "hf-folder"
            files = [f for f in path.iterdir() if f.suffix in (".safetensors", ".bin")]
            size = sum(f.stat().st_size for f in files)
        else:
            state = read_state_dict(path)
            _check_mel_bank(state, path)
            from .laion_convert import clap_model_from_state_dict

            model, self.format, size = clap_model_from_state_dict(state), "laion-original", path.stat().st_size
        audio, text = model.config.audio_config, model.config.text_config
        if audio.enable_fusion:
            raise CheckpointError(f"{path}: a fused LAION-CLAP (enable_fusion); give an unfused checkpoint")
        if model.config.projection_dim != WIDTH:
            layer = "audio_projection." + ("2" if self.format == "laion-original" else "linear2") + ".weight"
            raise CheckpointError(f"{path}: {layer} is {model.config.projection_dim} wide; LAION-CLAP's joint space "
                                  f"is {WIDTH}: not a LAION-CLAP checkpoint")
        if audio.num_mel_bins != FRONT_END["mel_bins"]:
            raise CheckpointError(f"{path}: the audio tower takes {audio.num_mel_bins} mel bands, the LAION-CLAP "
                                  f"front end gives {FRONT_END['mel_bins']}")
        self.model = model.to(self.device).eval()
        self.dim = model.config.projection_dim
        self._filters = torch.from_numpy(mel_filters())
        self._checkpoint = {"name": path.name, "bytes": size}
        check_tokenizer(self.tokenizer, source, embedding_rows=text.vocab_size)

    def settings(self) -> dict:
        return {"checkpoint": self._checkpoint, "format": self.format, "fusion": False,
                "tokenizer": fingerprint(self.tokenizer), "max_tokens": MAX_TOKENS, "sample_rate": LAION_SAMPLE_RATE,
                "clip_seconds": CLIP_SECONDS, "int16_round_trip": True, "front_end": FRONT_END}

    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.inference_mode():
            pooled = self.model.text_model(input_ids=batch["input_ids"].to(self.device),
                                           attention_mask=batch["attention_mask"].to(self.device)).pooler_output
            return self.model.text_projection(pooled).float().cpu().numpy()

    def _embed_audio_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        n = int(round(CLIP_SECONDS * LAION_SAMPLE_RATE))
        # Files come exactly 10 s long from the loader; an in-memory wave gets the loader's rule (tile / centre crop)
        clips = np.stack([int16_round_trip(fix_length(w, n)) for w in waves])
        with torch.inference_mode():
            features = log_mel(torch.from_numpy(clips).to(self.device), self._filters)
            pooled = self.model.audio_model(input_features=features).pooler_output
            return self.model.audio_projection(pooled).float().cpu().numpy()


def _load_folder(path: Path):
    """A ClapModel folder (config.json + weights), every weight from the folder."""
    from transformers import ClapModel

    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path} is a folder without config.json: give a ClapModel folder (save_pretrained, "
                              f"e.g. from python -m mats_lib.cli.convert_laion) or the original .pt file")
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its load report would repeat what the checks below decide, on stderr
    try:
        model, info = ClapModel.from_pretrained(str(path), local_files_only=True, output_loading_info=True)
    except Exception as error:  # noqa: BLE001 - truncated or foreign files: the user's folder, named with the cause
        raise CheckpointError(f"{path} does not load as a ClapModel ({type(error).__name__}: "
                              f"{str(error)[:200]})") from error
    finally:
        hf_logging.set_verbosity(verbosity)
    from .laion_convert import DERIVED, matches_any

    # buffers ClapModel computes from its config (older saves may lack them) are no missing weight
    info["missing_keys"] = [k for k in info.get("missing_keys", ()) if not matches_any(k, DERIVED)]
    for problem in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(problem):
            first = sorted(info[problem], key=str)[0]
            raise CheckpointError(f"{path}: ClapModel weights {problem.replace('_', ' ')}: {first} "
                                  f"({len(info[problem])} in all)")
    return model.float()


def _check_mel_bank(state: dict, path: Path) -> None:
    """The original file stores the mel bank its audio tower was trained with: it must be this front end's."""
    stored = state.get("audio_branch.logmel_extractor.melW")
    if stored is None:
        return  # not every layout keeps it; the converter judges the rest
    ours = mel_filters()
    if tuple(stored.shape) != ours.shape or np.abs(stored.double().numpy() - ours).max() > 1e-6:
        raise CheckpointError(f"{path}: audio_branch.logmel_extractor.melW {tuple(stored.shape)} is not the "
                              f"48 kHz / 1024-point, 64-band 50 Hz-14 kHz Slaney mel bank of this front end")
