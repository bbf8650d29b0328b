import io
import struct

import numpy as np
import pytest
import soundfile as sf

from mats_lib import assets


def test_missing_asset_names_the_make_target(tmp_path, monkeypatch):
    monkeypatch.setenv("MATS_BUILD_DIR", str(tmp_path))
    for locate in (assets.smollm2_path, assets.yamnet_path, lambda: assets.audio_source_path("opensfx")):
        with pytest.raises(assets.AssetMissingError, match="make assets"):
            locate()


def test_unknown_audio_source():
    with pytest.raises(ValueError, match="unknown audio source"):
        assets.audio_source_path("esc50")


def test_opensfx_catalogue_parser(tmp_path):
    """A two-entry catalogue in OpenTTD's layout parses back to its titles and wav bytes."""
    entries = []
    for title in ['"Cow". By X.', '"Jet take off". By Y.']:
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(160, dtype=np.float32), 16000, format="WAV")
        name = title.encode() + b"\0"
        entries.append(bytes([len(name)]) + name + buffer.getvalue())
    table_size = 8 * len(entries)
    offsets, blob = [], b""
    for e in entries:
        offsets.append(table_size + len(blob))
        blob += e
    table = b"".join(struct.pack("<II", o | (0x80000000 if i == 0 else 0), len(e))
                     for i, (o, e) in enumerate(zip(offsets, entries)))
    cat = tmp_path / "test.cat"
    cat.write_bytes(table + blob)
    parsed = assets.read_opensfx_catalogue(cat)
    assert [name for name, _ in parsed] == ['"Cow". By X.', '"Jet take off". By Y.']
    assert all(wav[:4] == b"RIFF" for _, wav in parsed)


def test_prepared_assets_are_located():
    """After `make assets` (run by `make test`), everything is where the code looks for it."""
    assert (assets.smollm2_path() / "model.safetensors").exists()
    assert assets.yamnet_path().stat().st_size > 1_000_000
    assert len(assets.yamnet_class_names()) == 521
    counts = {s: len(assets.list_source_clips(s)) for s in assets.AUDIO_SOURCES}
    assert counts["opensfx"] >= 70 and counts["animals"] == 10 and counts["wesnoth"] >= 250, counts
    assert all(clip.path.exists() for clip in assets.list_source_clips("animals"))
