"""Random weights in the paper CLAPs' real architectures, written in their released layouts by this project's own
models (no upstream code needed): ``tiny`` sizes for tests, the released sizes for the GPU check's timings. The
parity tests prove the layouts against the upstream code; these only need to load."""
from __future__ import annotations

from pathlib import Path

import torch


def write_msclap_checkpoint(path: str | Path, sizes: str = "tiny", seed: int = 0, device: str = "cpu") -> Path:
    """An MS-CLAP 2023-layout ``.pth`` (``{"model": state_dict}``) of random weights: ``tiny`` or ``2023``."""
    from transformers import ClapAudioConfig, GPT2Config

    from mats_lib.encoders.msclap import HTSAT_IMAGE, MSClapModel, checkpoint_state, sizes_2023

    if sizes == "2023":
        audio, text, width = sizes_2023()
    else:
        audio = ClapAudioConfig(patch_embeds_hidden_size=8, depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1],
                                window_size=8, patch_size=4, patch_stride=[4, 4], spec_size=HTSAT_IMAGE,
                                num_mel_bins=64, hidden_size=64, enable_fusion=False, enable_patch_layer_norm=True,
                                drop_path_rate=0.0)
        text, width = GPT2Config(n_embd=64, n_layer=2, n_head=1, vocab_size=400, n_positions=128,
                                 bos_token_id=None, eos_token_id=None), 32
    torch.manual_seed(seed)
    model = MSClapModel(audio, text, width, device=device).eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": checkpoint_state(model)}, path)
    return path


def write_laion_folder(path: str | Path, sizes: str = "tiny", seed: int = 0) -> Path:
    """A Hugging Face ClapModel folder of random weights: ``tiny``, or ``630k`` (HTSAT-tiny + RoBERTa-base, 512-d,
    unfused: transformers' ClapConfig defaults with roberta-base's layer-norm epsilon)."""
    from transformers import ClapConfig, ClapModel

    if sizes == "630k":
        config = ClapConfig(text_config={"layer_norm_eps": 1e-5}, projection_dim=512)
    else:
        config = ClapConfig(text_config={"vocab_size": 400, "hidden_size": 32, "num_hidden_layers": 1,
                                         "num_attention_heads": 2, "intermediate_size": 64},
                            audio_config={"patch_embeds_hidden_size": 8, "depths": [1, 1, 1, 1],
                                          "num_attention_heads": [1, 1, 1, 1], "hidden_size": 64},
                            projection_dim=512)
    torch.manual_seed(seed)
    ClapModel(config).eval().save_pretrained(str(path))
    return Path(path)
