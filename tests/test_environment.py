"""requirements.txt and environment.yml hold the same pins; the README's commands are the real ones."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins(lines):
    return {l.split("==")[0].lower(): l.split("==")[1] for l in lines if "==" in l}


def test_environment_yml_matches_requirements():
    req = [l.strip() for l in (ROOT / "requirements.txt").read_text().splitlines() if l.strip() and not l.startswith("#")]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert all("==" in r for r in req), "every requirement is pinned exactly"
    assert pins(req) == pins(pip_section)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make reproduce-all" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_local_uis_bind_to_loopback():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab:", "mlflow-ui:"):
        block = makefile.split(target, 1)[1].split("\n\n", 1)[0]
        assert "127.0.0.1" in block, target
