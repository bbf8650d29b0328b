"""Kill -9 at the worst moments, restart, lose nothing: real processes, killed as a whole process group while
they write, then run again to the end; the final results equal an uninterrupted run's.

Each job runs in a throwaway build folder (MATS_BUILD_DIR) that links the real assets and data, so the runs,
caches and reports it writes never touch the user's.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mats_lib.paths import REPO_ROOT, build_dir


@pytest.fixture
def sandbox(tmp_path):
    """(environment, build folder): a build folder of its own with the real assets, data and heads linked in."""
    build = tmp_path / "build"
    build.mkdir()
    for name in ("assets", "data", "miniclap"):
        if (build_dir() / name).exists():
            (build / name).symlink_to(build_dir() / name)
    env = {**os.environ, "MATS_BUILD_DIR": str(build), "MATS_REPORTS_DIR": str(tmp_path / "reports"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("MATS_CACHE_DIR", None)
    return env, build


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def kill_when(command: list[str], env: dict, condition, timeout: float = 900) -> None:
    """Start the command in its own process group and SIGKILL the group the moment condition() holds.
    Fails if the command ends first: the kill must land in the middle of the work."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if condition():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.005)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    pytest.fail(f"the job ended (or timed out) before the kill point: {process.communicate()[1][-2000:]}")


def run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def without_stamps(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("provenance",)}


# ------------------------------------------------------------------------------------------ data build
def test_killed_data_build_is_rebuilt_to_the_same_bytes(sandbox, tmp_path):
    env, _ = sandbox
    code = """
        import sys
        from pathlib import Path
        from mats_lib.data.miniaudio import BenchmarkConfig
        from mats_lib.data.build import build_all
        small = dict(eval_scenes=12, train_scenes=6, synth_per_class=1, voices_per_class=1, speech_sample=4)
        build_all(seed=3, root=Path(sys.argv[1]), verbose=False, benchmark=BenchmarkConfig(seed=3, **small),
                  corpus_options={"descriptions_per_class": 2, "scene_captions": 100})
    """
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    # killed while writing the benchmark's audio: files exist, the manifest (written last) does not
    kill_when(python(code) + [str(killed)], env,
              lambda: len(list((killed / "miniaudio").rglob("*.wav"))) >= 3 if (killed / "miniaudio").exists() else False)
    assert not (killed / "manifest.json").exists()  # an unfinished build is never taken as built
    run(python(code) + [str(killed)], env)
    run(python(code) + [str(straight)], env)
    assert json.loads((killed / "manifest.json").read_text())["files"] == \
        json.loads((straight / "manifest.json").read_text())["files"]


# ------------------------------------------------------------------------------------------ embedding cache
EMBED = """
    import json, sys
    import numpy as np
    from mats_lib.encoders import create_encoder
    from mats_lib.paths import data_dir
    texts = [json.loads(line)["caption"] for f in sorted((data_dir() / "audiotia_mini").glob("*.jsonl"))
             for line in f.read_text().splitlines()[:150]]
    encoder = create_encoder("tagclap", cache=sys.argv[1] if sys.argv[1] != "none" else False, batch_size=8,
                             progress=False)
    np.save(sys.argv[2], encoder.embed_text(texts))
"""


def cache_rows(folder: Path) -> int:
    files = list(folder.glob("tagclap-*.sqlite")) if folder.exists() else []
    if not files:
        return 0
    try:
        with sqlite3.connect(f"file:{files[0]}?mode=ro", uri=True, timeout=0.1) as db:
            return db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_killed_embedding_job_keeps_its_committed_chunks_and_finishes_identically(sandbox, tmp_path):
    env, _ = sandbox
    cache = tmp_path / "cache"
    kill_when(python(EMBED) + [str(cache), str(tmp_path / "killed.npy")], env, lambda: cache_rows(cache) > 0)
    kept = cache_rows(cache)
    assert 0 < kept < 900  # some chunks were committed, not all
    (db_file,) = cache.glob("tagclap-*.sqlite")
    with sqlite3.connect(db_file) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    run(python(EMBED) + [str(cache), str(tmp_path / "resumed.npy")], env)
    run(python(EMBED) + ["none", str(tmp_path / "straight.npy")], env)
    resumed, straight = np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "straight.npy")
    assert resumed.shape == straight.shape and np.array_equal(resumed, straight)


# ------------------------------------------------------------------------------------------ checkpoints
TRAIN = """
    import sys
    from mats_lib.config import load_config
    from mats_lib.training import train
    cfg = load_config("smoke", {"tracking.enabled": False, "train.save_every": 1, "train.max_steps": 6,
                                "train.output_dir": sys.argv[1]})
    train(cfg, name="crash", progress=False)
"""


def test_killed_training_resumes_to_the_same_weights(sandbox, tmp_path):
    env, build = sandbox
    killed, straight = build / "runs" / "killed", build / "runs" / "straight"

    def saving_or_mid_run():  # inside a checkpoint save when the poll catches one, else after the third save
        run_dir = killed / "crash"
        return run_dir.exists() and (any(run_dir.glob("*.partial")) or (run_dir / "step_0000003").exists())

    kill_when(python(TRAIN) + [str(killed)], env, saving_or_mid_run)
    assert not (killed / "crash" / "final").exists()
    run(python(TRAIN) + [str(killed)], env)  # resumes from the latest complete checkpoint
    run(python(TRAIN) + [str(straight)], env)
    a = load_file(str(killed / "crash" / "final" / "trainable.safetensors"))
    b = load_file(str(straight / "crash" / "final" / "trainable.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the loss curve, steps redone after the resume overwriting the killed process's (the last line wins)
    def curve(folder):
        return {r["step"]: r["loss"] for r in map(json.loads, (folder / "losses.jsonl").read_text().splitlines())}

    assert curve(killed / "crash") == curve(straight / "crash")


# ------------------------------------------------------------------------------------------ Santa's memory bank
MEMORY = """
    import sys
    import numpy as np
    from mats_lib.config import load_config
    from mats_lib.encoders import create_encoder
    from mats_lib.evaluation import corpus_captions, memory_bank
    from mats_lib.config import SantaConfig
    texts = corpus_captions(load_config("mini"))
    bank = memory_bank(create_encoder("tagclap", progress=False), texts,
                       SantaConfig(memory_size=3000, clusters=64, lloyd_iterations=30, noise_variance=0.015), seed=0)
    np.save(sys.argv[1], bank.centroids.numpy())
"""


def test_killed_memory_bank_build_is_rebuilt_identically(sandbox, tmp_path):
    env, build = sandbox
    cache = build / "cache"
    # killed once its texts are embedded: inside the k-means or the bank's write
    kill_when(python(MEMORY) + [str(tmp_path / "killed.npy")], env, lambda: cache_rows(cache) >= 3000)
    assert not list(cache.glob("memory-*.safetensors"))  # no half-written bank under the real name
    run(python(MEMORY) + [str(tmp_path / "resumed.npy")], env)
    (bank_file,) = cache.glob("memory-*.safetensors")
    bank_file.unlink()
    run(python(MEMORY) + [str(tmp_path / "straight.npy")], env)
    assert np.array_equal(np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "straight.npy"))


# ------------------------------------------------------------------------------------------ evaluation parts
EVALUATE = """
    import sys
    from mats_lib.evaluate import main
    main([sys.argv[1], "--out", sys.argv[2], "--set", "eval.tasks=[cls_animals,qa_scenes]", "--set", "eval.batch_size=1",
          "--set", "eval.transfers=[plain,santa]", "--set", "tracking.enabled=false"])
"""


def part_metrics(out: Path) -> dict:
    return {str(p.relative_to(out)): without_stamps(json.loads(p.read_text())) for p in sorted(out.rglob("metrics.json"))}


def test_killed_evaluation_resumes_its_part_and_ends_with_the_same_metrics(sandbox, tiny_run, tmp_path):
    env, _ = sandbox
    env = {**env, "MATS_CACHE_DIR": os.environ["MATS_CACHE_DIR"]}  # the tiny run's embeddings
    killed, straight = tmp_path / "killed", tmp_path / "straight"

    def inside_a_part():  # some predictions written, the part's metrics not yet
        for predictions in killed.rglob("predictions.jsonl"):
            if predictions.stat().st_size > 0 and not (predictions.parent / "metrics.json").exists():
                return True
        return False

    kill_when(python(EVALUATE) + [str(tiny_run), str(killed)], env, inside_a_part)
    run(python(EVALUATE) + [str(tiny_run), str(killed)], env)
    run(python(EVALUATE) + [str(tiny_run), str(straight)], env)
    a, b = part_metrics(killed), part_metrics(straight)
    assert len(a) == 4 and a == b
    for part in killed.rglob("predictions.jsonl"):
        twin = straight / part.relative_to(killed)
        assert part.read_text() == twin.read_text()  # every row once, in order


# ------------------------------------------------------------------------------------------ a notebook
def test_killed_notebook_execution_resumes_and_reports_the_same(sandbox, tmp_path):
    env, build = sandbox
    command = [sys.executable, "-m", "papermill", "notebooks/train_mats.ipynb", None, "-k", "mats",
               "--no-progress-bar", "-p", "preset", "smoke", "-p", "noise", "off"]
    report = Path(env["MATS_REPORTS_DIR"]) / "smoke" / "train-smoke-text-tagclap-seed0-noise_variance=0.0.json"
    run_folder = build / "runs" / "smoke" / "smoke-text-tagclap-seed0-noise_variance=0.0"

    def mid_training():
        return (run_folder / "step_0000003").exists()

    command[4] = str(tmp_path / "killed.ipynb")
    kill_when(command, env, mid_training)
    assert not report.exists() and not (run_folder / "final").exists()
    run(command, env)  # the notebook's training resumes from the checkpoint the kill left
    resumed = without_stamps(json.loads(report.read_text()))
    weights = load_file(str(run_folder / "final" / "trainable.safetensors"))

    fresh_env = {**env, "MATS_BUILD_DIR": str(tmp_path / "fresh"), "MATS_REPORTS_DIR": str(tmp_path / "fresh-reports")}
    (tmp_path / "fresh").mkdir()
    for name in ("assets", "data"):
        (tmp_path / "fresh" / name).symlink_to(build / name)
    command[4] = str(tmp_path / "straight.ipynb")
    run(command, fresh_env)
    straight_report = tmp_path / "fresh-reports" / "smoke" / report.name
    straight = without_stamps(json.loads(straight_report.read_text()))
    straight_weights = load_file(str(tmp_path / "fresh" / "runs" / "smoke" / run_folder.name / "final" /
                                     "trainable.safetensors"))
    assert all(torch.equal(weights[k], straight_weights[k]) for k in weights)
    assert resumed["key"]["key"] == straight["key"]["key"]
    assert (resumed["steps"], resumed["loss_first10"], resumed["loss_last25"]) == \
        (straight["steps"], straight["loss_first10"], straight["loss_last25"])
