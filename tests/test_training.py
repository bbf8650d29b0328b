"""Text-only training on the smoke preset: end to end, resume, DDP, and FAILED runs in MLflow."""
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from mats_lib.config import load_config
from mats_lib.data.sources import data_inputs
from mats_lib.paths import REPO_ROOT
from mats_lib.tracking import run_status
from mats_lib.batches import lr_factor
from mats_lib.training import train


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def smoke(tmp_path, **overrides):
    return load_config("smoke", {"train.output_dir": str(tmp_path / "runs"), **overrides})


def weights(run_dir, checkpoint="final"):
    return load_file(str(run_dir / checkpoint / "trainable.safetensors"))


def test_a_few_steps_end_to_end(tmp_path, tmp_cache, mlflow_store):
    result = train(smoke(tmp_path), progress=False)
    assert result.step == 6 and len(result.losses) == 6
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert 0 < result.noise_variance < 0.05  # 'auto' calibrated on tagclap, logged
    status, metrics = run_status(result.run_id, mlflow_store)
    assert status == "FINISHED" and {"loss", "lr", "samples_per_s", "peak_rss_gb"} <= set(metrics)
    saved = weights(result.run_dir)
    assert any("lora_A" in k for k in saved) and any(k.startswith("mapper.") for k in saved)
    assert not any("embed_tokens" in k for k in saved)  # only trainable weights are saved
    assert (result.run_dir / "final" / "config.yaml").exists()


def test_killed_and_resumed_run_ends_with_the_same_weights(tmp_path, tmp_cache, mlflow_store):
    straight = train(smoke(tmp_path), name="straight", progress=False)
    first = train(smoke(tmp_path), name="interrupted", stop_at_step=3, progress=False)
    assert first.step == 3 and (first.run_dir / "step_0000003").exists()
    resumed = train(smoke(tmp_path), name="interrupted", resume_from=first.run_dir, progress=False)
    assert resumed.step == 6 and resumed.losses == straight.losses[3:]
    a, b = weights(straight.run_dir), weights(resumed.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_numbers(tmp_path, tmp_cache, mlflow_store):
    a = train(smoke(tmp_path, **{"train.max_steps": 3}), name="a", progress=False)
    b = train(smoke(tmp_path, **{"train.max_steps": 3}), name="b", progress=False)
    assert a.losses == b.losses


def test_gradient_checkpointing_gives_the_same_weights_and_is_not_in_the_key(tmp_path, tmp_cache, mlflow_store):
    from mats_lib.runs import run_name

    plain = train(smoke(tmp_path, **{"train.max_steps": 2}), name="plain", progress=False)
    cfg = smoke(tmp_path, **{"train.max_steps": 2, "train.gradient_checkpointing": True})
    checkpointed = train(cfg, name="checkpointed", progress=False)
    assert checkpointed.losses == pytest.approx(plain.losses, rel=1e-5)
    a, b = weights(plain.run_dir), weights(checkpointed.run_dir)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert run_name(cfg) == run_name(smoke(tmp_path, **{"train.max_steps": 2}))  # bookkeeping, not a setting


def test_crash_marks_the_run_failed_and_keeps_its_metrics(tmp_path, tmp_cache, mlflow_store):
    import mlflow

    def crash(step, loss):
        if step == 3:
            raise RuntimeError("simulated crash at step 3")

    with pytest.raises(RuntimeError, match="simulated crash"):
        train(smoke(tmp_path), on_step=crash, progress=False)
    runs = mlflow.search_runs(experiment_names=["mats-smoke"], output_format="list")
    assert len(runs) == 1
    status, metrics = run_status(runs[0].info.run_id, mlflow_store)
    assert status == "FAILED" and "loss" in metrics
    history = mlflow.tracking.MlflowClient(mlflow_store).get_metric_history(runs[0].info.run_id, "loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert "simulated crash" in runs[0].data.tags["error"]
    # the corpus it trained on is the run's input, digested as this project hashes it
    [data] = mlflow.tracking.MlflowClient(mlflow_store).get_run(runs[0].info.run_id).inputs.dataset_inputs
    assert data.dataset.name == "audiotia_mini" and [t.value for t in data.tags] == ["training"]
    assert data.dataset.digest == data_inputs(smoke(tmp_path), evaluation=False)[0]["digest"]


def test_learning_rate_schedule():
    cfg = load_config("paper")
    assert lr_factor(0, cfg) == pytest.approx(1e-7 / 3e-5)
    assert lr_factor(3000, cfg) == pytest.approx(1.0)
    assert lr_factor(cfg.train.max_steps, cfg) == pytest.approx(0.0, abs=1e-12)


def test_ddp_two_gloo_processes_match_one_process_with_double_batch(tmp_path, tmp_cache):
    common = ["--config", "smoke", "--set", f"train.output_dir={tmp_path}", "--set", "llm.lora_dropout=0.0",
              "--set", "tracking.enabled=false", "--set", "train.max_steps=3", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    # two gloo processes through the make target a GPU host uses (`make train NPROC=4`)
    ddp = subprocess.run(["make", "--no-print-directory", "train", "PRESET=smoke", "NPROC=2",
                          "ARGS=" + " ".join(common[2:] + ["--name", "ddp", "--set", "train.batch_size=2"])],
                         env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    subprocess.run([sys.executable, "-m", "mats_lib.train", *common, "--name", "single", "--set", "train.batch_size=4"],
                   check=True, env=env, cwd=REPO_ROOT, capture_output=True)
    a, b = weights(tmp_path / "ddp"), weights(tmp_path / "single")
    # Summation order differs between the two (all-reduce vs one batch). Adam normalises each gradient,
    # so coordinates whose true gradient is ~0 (the attention key bias: softmax ignores it) can move by
    # rounding noise; 1e-5 after 3 steps at lr 1e-3 still catches any real mismatch (a wrong slice, a
    # missing average), which moves weights by ~1e-3.
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)
