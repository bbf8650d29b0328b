"""Pipeline steps (`mats_lib.steps`): skipped only while their command, inputs and outputs are unchanged."""
from __future__ import annotations

import json
import sys

import pytest

from mats_lib import steps


@pytest.fixture()
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("MATS_BUILD_DIR", str(tmp_path))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("first")
    return tmp_path


def step(build, command_text="x", inputs=("build/in/*.txt",)):
    """A step that appends one line to build/runs.log per execution and writes build/out/result.txt."""
    code = ("import pathlib, sys; root = pathlib.Path(sys.argv[1]); (root / 'out').mkdir(exist_ok=True); "
            "(root / 'out' / 'result.txt').write_text(sys.argv[2]); "
            "log = root / 'runs.log'; log.write_text((log.read_text() if log.exists() else '') + 'ran\\n')")
    command = [sys.executable, "-c", code, str(build), command_text]
    return steps.run_step("test", "demo", command, inputs=list(inputs), outputs=["build/out/result.txt"])


def executions(build) -> int:
    log = build / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_step_reruns_only_when_its_command_inputs_or_outputs_change(build, capsys):
    assert step(build) == 0 and executions(build) == 1
    assert step(build) == 0 and executions(build) == 1  # nothing changed: skipped
    assert "up to date" in capsys.readouterr().out

    (build / "in" / "a.txt").write_text("second")  # an input's bytes
    step(build)
    assert executions(build) == 2
    (build / "in" / "b.txt").write_text("new")  # a new file under an input glob
    step(build)
    assert executions(build) == 3
    step(build, command_text="y")  # the command line (settings)
    assert executions(build) == 4
    (build / "out" / "result.txt").unlink()  # a deleted output
    step(build, command_text="y")
    assert executions(build) == 5
    (build / "out" / "result.txt").write_text("edited by hand")  # an edited output
    step(build, command_text="y")
    assert executions(build) == 6
    step(build, command_text="y")
    assert executions(build) == 6


def test_a_code_input_reruns_a_step_when_its_code_key_changes(build, monkeypatch):
    import mats_lib.code_keys as code_keys

    inputs = ("code:package", "code:evaluation", "build/in/*.txt")
    step(build, inputs=inputs)
    recorded = json.loads(steps.stamp_path("test", "demo").read_text())["inputs"]
    assert recorded["code:package"] == code_keys.package_key() and recorded["code:evaluation"] == code_keys.code_key("evaluation")
    step(build, inputs=inputs)
    assert executions(build) == 1
    monkeypatch.setattr(code_keys, "code_key", lambda component: "edited")  # as after a numeric edit
    step(build, inputs=inputs)
    assert executions(build) == 2


def test_force_and_failures_leave_no_current_stamp(build, monkeypatch):
    step(build)
    stamp = steps.stamp_path("test", "demo")
    recorded = json.loads(stamp.read_text())
    assert recorded["outputs"] == {"build/out/result.txt": steps.file_sha256(build / "out" / "result.txt")}
    assert recorded["seconds"] >= 0 and list(recorded["inputs"]) == ["build/in/a.txt"]

    monkeypatch.setenv("FORCE", "1")
    from mats_lib.cli.steps import main

    assert main(["run", "demo", "--preset", "test", "--inputs", "build/in/*.txt", "--outputs",
                       "build/out/result.txt", "--", *recorded["command"]]) == 0
    assert executions(build) == 2  # FORCE=1 runs it whatever the stamp

    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    assert steps.run_step("test", "demo", failing, ["build/in/*.txt"], ["build/out/result.txt"]) == 3
    assert not stamp.exists()  # the old stamp is gone: the next run executes again


def test_every_notebook_and_report_of_reproduce_all_is_a_keyed_step():
    """`make -n reproduce-all`: each papermill execution and each report script runs through `mats_lib.steps`,
    so a second run with nothing changed executes none of them."""
    import subprocess

    from mats_lib.paths import REPO_ROOT

    for preset in ("smoke", "mini"):
        dry = subprocess.run(["make", "-n", "--no-print-directory", "reproduce-all", f"PRESET={preset}"],
                             cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
        commands = dry.replace("\\\n", " ").splitlines()
        heavy = [c for c in commands if "papermill" in c or any(f"mats_lib.cli.{name}" in c for name in (
            "run_notebook", "transfer_table", "caption_examples", "encoder_report", "miniclap_heads",
            "miniclap_study", "miniclap_frontier", "modality_geometry"))]
        assert len(heavy) >= 8, dry
        unwrapped = [c for c in heavy if "mats_lib.cli.steps run" not in c and not c.startswith("bash scripts/install")]
        assert not unwrapped, unwrapped
        # papermill through run_notebook, which then logs the executed notebook into its MLflow run
        assert dry.count("mats_lib.cli.run_notebook notebooks/") >= 7 and "bin/papermill notebooks/" not in dry
