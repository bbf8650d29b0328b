"""Audio loading: conversion of valid audio and clear errors for what is not audio."""
import numpy as np
import pytest

from mats_lib.audio import AudioError, fix_length, load_audio
from tests.conftest import tone


def assert_audio_error(path, problem_words):
    with pytest.raises(AudioError) as info:
        load_audio(path, 16000)
    message = str(info.value)
    assert str(path) in message, message
    assert any(word in message for word in problem_words), message


def test_missing_file(tmp_path):
    assert_audio_error(tmp_path / "nope.wav", ["file not found"])


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert_audio_error(path, ["empty file"])


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage that is not a wave file" * 3)
    assert_audio_error(path, ["unreadable or corrupt"])


def test_text_file_with_audio_extension(tmp_path):
    path = tmp_path / "notes.ogg"
    path.write_text("this is not audio\n" * 20)
    assert_audio_error(path, ["unreadable or corrupt"])


def test_zero_length_audio(write_wave):
    path = write_wave("zero.wav", np.zeros(0, dtype=np.float32), 16000)
    assert_audio_error(path, ["empty audio", "zero samples"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(write_wave, bad):
    samples = tone(0.5, 16000)
    samples[100] = bad
    path = write_wave("bad.wav", samples, 16000, subtype="FLOAT")
    assert_audio_error(path, ["NaN or infinite"])


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 96000])
def test_odd_rates_are_resampled(write_wave, rate):
    path = write_wave(f"r{rate}.wav", tone(1.0, rate), rate)
    wave = load_audio(path, 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.shape[0] - 16000) <= 1
    # the 440 Hz tone survives resampling
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / wave.shape[0] - 440) < 5


def test_many_channels_are_averaged(write_wave):
    samples = tone(1.0, 16000, channels=6)  # channel c = tone * (c+1)/6
    wave = load_audio(write_wave("six.wav", samples, 16000), 16000)
    np.testing.assert_allclose(wave, samples.mean(axis=1), atol=1e-4)


def test_silence_is_valid(write_wave):
    wave = load_audio(write_wave("silence.wav", np.zeros(8000, dtype=np.float32), 16000), 16000, clip_seconds=1.0)
    assert wave.shape == (16000,) and not wave.any()


def test_other_formats(tmp_path):
    import soundfile as sf

    for ext, fmt in [("flac", "FLAC"), ("ogg", "OGG")]:
        path = tmp_path / f"tone.{ext}"
        sf.write(str(path), tone(1.0, 22050), 22050, format=fmt)
        assert load_audio(path, 16000).shape[0] == pytest.approx(16000, abs=2)


def test_tiling_and_centre_crop_are_deterministic():
    wave = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(fix_length(wave, 25), np.concatenate([wave, wave, wave[:5]]))
    np.testing.assert_array_equal(fix_length(wave, 4), wave[3:7])
    np.testing.assert_array_equal(fix_length(wave, 14, pad="zeros")[10:], np.zeros(4))


def test_random_crop_is_seeded():
    wave = np.arange(1000, dtype=np.float32)
    a = fix_length(wave, 100, crop="random", rng=np.random.default_rng(3))
    b = fix_length(wave, 100, crop="random", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="seeded"):
        fix_length(wave, 100, crop="random")


def test_min_seconds_tiles_short_clips(write_wave):
    wave = load_audio(write_wave("short.wav", tone(0.2, 16000), 16000), 16000, min_seconds=0.96)
    assert wave.shape == (15360,)
