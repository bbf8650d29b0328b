"""The layout tells the architecture: the module map is the code's, commands parse arguments only in cli/, and
only the train command and the study layer reach the training loop."""
import ast
import re
from pathlib import Path

import mats_lib

PACKAGE = Path(mats_lib.__file__).parent


def modules() -> dict[str, ast.Module]:
    """{dotted module name: its syntax tree} for every file of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text())
    return out


def imported(name: str, tree: ast.Module) -> set[str]:
    """Absolute names of the modules a module imports (anywhere in it, function bodies included)."""
    package = name.split(".") if (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() else name.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}
    return out


def test_the_module_map_names_every_module_and_no_other():
    top = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
           if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    mapped = set()
    for line in mats_lib.__doc__.splitlines():
        match = re.match(r"    ([a-z_]+)/?(?:, ([a-z_]+))?\s", line)
        if match:
            mapped |= {g for g in match.groups() if g}
    assert mapped == top, f"in the code, not the map: {sorted(top - mapped)}; in the map only: {sorted(mapped - top)}"


def test_no_module_outside_cli_parses_arguments():
    offenders = [name for name, tree in modules().items()
                 if "argparse" in imported(name, tree) and not name.startswith("mats_lib.cli")]
    assert offenders == []


def test_only_the_train_command_and_the_study_layer_import_the_training_loop():
    allowed = {"mats_lib.cli.train", "mats_lib.study", "mats_lib.study.efficiency", "mats_lib.train"}
    importers = sorted(name for name, tree in modules().items()
                       if "mats_lib.training" in imported(name, tree) and name != "mats_lib.training")
    assert set(importers) <= allowed, importers
    assert "mats_lib.cli.train" in importers and "mats_lib.study" in importers  # the check sees imports at all


def test_command_shims_are_a_few_lines_without_argparse():
    for shim in ("train.py", "evaluate.py"):
        text = (PACKAGE / shim).read_text()
        assert len(text.splitlines()) <= 6 and "argparse" not in text and "from .cli." in text


def test_analysis_computes_tables_from_results_and_never_evaluates_trains_or_writes():
    forbidden = ("mats_lib.training", "mats_lib.evaluation", "mats_lib.inference", "mats_lib.encoders",
                 "mats_lib.study", "mats_lib.runs", "mats_lib.provenance.write_atomic",
                 "mats_lib.provenance.write_json_atomic", "matplotlib")
    found = {name: sorted(m for m in imported(name, tree) if m.startswith(forbidden))
             for name, tree in modules().items() if name.startswith("mats_lib.analysis")}
    assert {name: bad for name, bad in found.items() if bad} == {}
