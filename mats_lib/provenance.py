"""What made a result: content hashes, source fingerprints, settings keys, and the provenance stamp.

A result (a training run, an evaluation part, a table) is reused only when its *key* matches: a hash of
everything that changes its numbers (settings, checkpoint bytes, encoder fingerprint, data manifest, and
the code that computed it: ``code_keys``, which hashes definitions, not files). The key deliberately leaves out the git commit: committing
a report would otherwise make it stale. The *provenance* (commit and dirty flag, package versions,
machine, time) is stamped beside the key for the reader, and never decides reuse.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

from .paths import REPO_ROOT

TRACKED_PACKAGES = ("torch", "transformers", "peft", "numpy", "scipy", "scikit-learn", "mlflow", "onnxruntime",
                    "pycocoevalcap")

def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def settings_key(settings: dict) -> str:
    """A short stable hash of a JSON-able mapping (sorted keys): the key of whatever it describes."""
    blob = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def git_revision() -> str:
    """HEAD's commit, with '-dirty' when tracked files differ from it; 'unknown' outside a checkout."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for package in TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


NUMERIC_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), for the timings that are facts about one machine."""
    try:
        line = next(x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("model name"))
        return line.split(":", 1)[1].strip()
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def numeric_platform(device: str = "cpu") -> dict:
    """What decides float results besides code and settings: the device and, on CPUs, the vector and matrix
    units (int8 ONNX kernels and bf16 matmuls take other paths on AVX2, AVX512-VNNI/BF16 and AMX; measured:
    tagclap's zero-shot report differs between an AVX2 and an AVX512 host)."""
    out: dict = {"device": device.split(":")[0]}
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = set(next(line for line in text.splitlines() if line.startswith("flags")).split(":", 1)[1].split())
        out["isa"] = [f for f in NUMERIC_FLAGS if f in flags]
    except (OSError, StopIteration):
        out["isa"] = platform.machine()
    if out["device"] == "cuda":
        import torch

        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return out


def provenance() -> dict:
    """Who and what produced a file: commit (+ dirty flag), package versions, machine, UTC time."""
    return {"git_revision": git_revision(), "python": platform.python_version(), "packages": package_versions(),
            "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def write_atomic(path: str | Path, text: str) -> None:
    """Write a text file through a temporary file in the same folder and a rename: a crash leaves either the
    old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make results unreadable to the rest of a shared host
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")
