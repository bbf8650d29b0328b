"""Pipeline steps that run only when what they read or wrote has changed.

Runs and evaluation parts are keyed (``provenance``), so re-executing a study notebook reuses them, but the
execution itself (a kernel start, a t-SNE, a timing loop) still costs minutes. ``make reproduce-all`` therefore
wraps each step in :func:`run_step`: the step's key hashes its command line, its code (``code:package`` or
``code:<component>``: the code keys of ``code_keys``, which a move or a docstring edit keeps), the bytes of every
input file (configs, the data manifest, the encoder heads, the keys of the runs it reads) and of every output
file it wrote. A step whose key matches its stamp under ``build/steps/<preset>/`` is skipped; any change, a
deleted output included, runs it again. The stamp also keeps the step's wall time, which
``python -m mats_lib.steps times`` lists (the README's per-step times come from there).

    python -m mats_lib.steps run NAME --preset mini --inputs code:package 'experiments/*.yaml' ... --outputs F ... -- CMD ...
    python -m mats_lib.steps times --preset mini

``FORCE=1`` in the environment runs every step whatever its stamp.
"""
from __future__ import annotations

import glob
import hashlib
import json
import subprocess
import time
from pathlib import Path

from .paths import REPO_ROOT, build_dir, project_path, report_path
from .provenance import file_sha256, write_json_atomic


def resolve_glob(pattern: str) -> list[Path]:
    """Files matching a glob named as configs name paths (``build/...`` under :func:`build_dir`)."""
    return sorted(Path(p) for p in glob.glob(str(project_path(pattern)), recursive=True) if Path(p).is_file())


CODE_INPUT = "code:"  # an input naming code, not files: code:package, or a component of code_keys


def code_input(name: str) -> str:
    """The key of ``code:package`` (every definition of mats_lib) or ``code:<component>``: definitions hashed on
    their syntax trees, so moving code or editing a docstring keeps a step's stamp."""
    from .code_keys import code_key, package_key

    return package_key() if name == "package" else code_key(name)


def file_hashes(patterns: list[str]) -> dict[str, str]:
    """Each matching file's SHA-256, named as reports name paths (the same in every clone); a ``code:`` input
    gives its code key instead."""
    hashes = {}
    for pattern in patterns:
        if pattern.startswith(CODE_INPUT):
            hashes[pattern] = code_input(pattern[len(CODE_INPUT):])
        else:
            hashes.update({report_path(p): file_sha256(p) for p in resolve_glob(pattern)})
    return hashes


def step_key(command: list[str], inputs: dict[str, str], outputs: dict[str, str]) -> str:
    blob = json.dumps({"command": command, "inputs": inputs, "outputs": outputs}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def stamp_path(preset: str, name: str) -> Path:
    return build_dir() / "steps" / preset / f"{name}.json"


def is_up_to_date(preset: str, name: str, command: list[str], inputs: list[str], outputs: list[str]) -> bool:
    stamp = stamp_path(preset, name)
    if not stamp.exists():
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    current = file_hashes(outputs)
    if not current or set(current) != set(recorded.get("outputs", {})):
        return False
    return recorded.get("key") == step_key(command, file_hashes(inputs), current)


def run_step(preset: str, name: str, command: list[str], inputs: list[str], outputs: list[str],
             force: bool = False) -> int:
    """Run ``command`` unless its stamp says nothing it reads or wrote has changed; record a new stamp after a
    successful run. Returns the command's exit status (0 when skipped)."""
    if not force and is_up_to_date(preset, name, command, inputs, outputs):
        print(f"[step {name}] up to date (inputs and outputs unchanged since its last run): skipped", flush=True)
        return 0
    stamp = stamp_path(preset, name)
    stamp.unlink(missing_ok=True)  # a failed or interrupted run must not leave an old stamp that looks current
    print(f"[step {name}] running: {' '.join(command)}", flush=True)
    started = time.monotonic()
    status = subprocess.run(command, cwd=REPO_ROOT).returncode
    seconds = time.monotonic() - started
    if status != 0:
        print(f"[step {name}] failed with exit status {status} after {seconds:.0f} s", flush=True)
        return status
    produced = file_hashes(outputs)
    if not produced:
        print(f"[step {name}] finished but wrote none of {outputs}: no stamp, it runs again next time", flush=True)
        return 0
    read = file_hashes(inputs)
    write_json_atomic(stamp, {"name": name, "preset": preset, "command": command,
                              "key": step_key(command, read, produced),
                              "inputs": read, "outputs": produced, "seconds": round(seconds, 1),
                              "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    print(f"[step {name}] done in {seconds:.0f} s", flush=True)
    return 0


def recorded_times(preset: str) -> list[dict]:
    """The stamps of a preset's steps, in the order they finished."""
    stamps = [json.loads(p.read_text()) for p in sorted((build_dir() / "steps" / preset).glob("*.json"))]
    return sorted(stamps, key=lambda s: s["finished_utc"])


if __name__ == "__main__":  # the command lives in mats_lib.cli.steps
    from .cli.steps import main

    main()
