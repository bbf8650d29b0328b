"""Code keys: a tidy-up (a move, a docstring, a comment) keeps every key; a numeric edit or a rename changes the
keys of what it computes and no others; every function a smoke training or evaluation executes is hashed or plumbing.
"""
import shutil
import sys
from pathlib import Path


from mats_lib.code_keys import (COMPONENTS, FINGERPRINTED, PACKAGE_ROOT, PLUMBING, closure, code_key, definitions,
                                is_plumbing_module, numeric_definitions, package_key, roots_key)


def package_copy(tmp_path: Path) -> Path:
    root = tmp_path / "mats_lib"
    shutil.copytree(PACKAGE_ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}: update the test's edit"
    path.write_text(text.replace(old, new))


BACKENDS = ("TagClap", "MiniClap", "MSClap", "LaionClap")


def all_keys(root: Path | None) -> dict[str, str]:
    """Every component's key, each encoder backend's (its fingerprint's code part) and the package's."""
    return {**{c: code_key(c, root) for c in COMPONENTS}, **{b: roots_key((b,), root) for b in BACKENDS},
            "package": package_key(root)}


def test_a_move_a_docstring_and_a_comment_keep_every_key(tmp_path):
    before = all_keys(None)
    root = package_copy(tmp_path)
    # move noisy_unit out of noise.py into a new module, and point its importers there
    noise = (root / "noise.py").read_text()
    start = noise.index("def noisy_unit")
    end = noise.index("\ndef ", start + 1)
    (root / "noise_draws.py").write_text('"""Noise draws."""\nimport torch\n\n\n' + noise[start:end])
    (root / "noise.py").write_text(noise[:start] + noise[end:])
    for module in ("training.py", "santa.py"):
        text = (root / module).read_text()
        assert "noisy_unit" in text
        (root / module).write_text(text.replace("from .noise import calibrate_noise_variance, noisy_unit",
                                                "from .noise import calibrate_noise_variance\n"
                                                "from .noise_draws import noisy_unit")
                                   .replace("from .noise import noisy_unit", "from .noise_draws import noisy_unit"))
    # a docstring, a comment and an annotation
    edit(root / "model.py", "The loss covers the answer tokens (and EOS) only.", "The loss covers answer tokens only.")
    edit(root / "santa.py", "    t = torch.einsum(", "    # the weighted mean of the retrieved texts\n    t = torch.einsum(")
    edit(root / "baselines.py", "def question_type(question: str | None) -> str:", "def question_type(question):")
    assert "noisy_unit" in {d.name for d in closure(COMPONENTS["training"], root)}
    assert all_keys(root) == before


def test_a_module_qualified_call_reads_as_the_bare_name(tmp_path):
    """`santa.retrieve(x)` and `retrieve(x)` are the same code: a move may change how a caller names it."""
    def package(name, caller):
        root = tmp_path / name / "mats_lib"
        root.mkdir(parents=True)
        (root / "__init__.py").write_text("")
        (root / "santa.py").write_text("def retrieve(x):\n    return x * 2\n")
        (root / "evaluation.py").write_text(caller)
        return root

    qualified = package("a", "from . import santa\n\n\ndef run(x):\n    return santa.retrieve(x) + 1\n")
    bare = package("b", "from .santa import retrieve\n\n\ndef run(x):\n    \"\"\"Doc.\"\"\"\n    return retrieve(x) + 1\n")
    assert roots_key(("run",), qualified) == roots_key(("run",), bare)
    assert {d.name for d in closure(("run",), qualified)} == {"run", "retrieve"}


def test_an_edited_constant_changes_the_keys_of_what_it_computes_and_only_those(tmp_path):
    before = all_keys(None)
    santa_edit = package_copy(tmp_path / "santa")
    edit(santa_edit / "santa.py", "return (1 - lam) * base + lam * t", "return (1 - lam) * base + 0.9 * lam * t")
    after = all_keys(santa_edit)
    assert after["evaluation"] != before["evaluation"] and after["memory_bank"] != before["memory_bank"]
    assert after["training"] == before["training"] and after["encoder"] == before["encoder"]
    assert after["package"] != before["package"]

    loss_edit = package_copy(tmp_path / "loss")
    edit(loss_edit / "model.py", "lengths.clamp(min=1)", "lengths.clamp(min=2)")
    after = all_keys(loss_edit)
    assert after["training"] != before["training"]
    assert after["encoder"] == before["encoder"] and after["baselines"] == before["baselines"]

    registry_edit = package_copy(tmp_path / "registry")  # a module-level call, mentioned by no definition
    edit(registry_edit / "data" / "tasks.py", 'register_task("cls_vocal", "[vocal event]"',
         'register_task("cls_vocal", "[vocal events]"')
    after = all_keys(registry_edit)
    assert after["training"] != before["training"] and after["evaluation"] != before["evaluation"]
    assert after["encoder"] == before["encoder"]

    backend_edit = package_copy(tmp_path / "backend")  # one encoder backend: only what used it re-keys
    edit(backend_edit / "encoders" / "msclap.py", "CAPTION_TOKENS = 77", "CAPTION_TOKENS = 78")
    after = all_keys(backend_edit)
    assert after["MSClap"] != before["MSClap"]
    assert all(after[k] == before[k] for k in ("TagClap", "MiniClap", "training", "evaluation", "baselines"))
    yamnet_edit = package_copy(tmp_path / "yamnet")  # shared by tagclap and miniclap
    edit(yamnet_edit / "encoders" / "yamnet.py", "SAMPLE_RATE = 16000", "SAMPLE_RATE = 16001")
    after = all_keys(yamnet_edit)
    assert after["TagClap"] != before["TagClap"] and after["MiniClap"] != before["MiniClap"]
    assert after["MSClap"] == before["MSClap"]

    constant_edit = package_copy(tmp_path / "constant")  # a module-level constant
    edit(constant_edit / "santa.py", 'STOCHASTIC_TRANSFERS = ("added_noise", "santa")', 'STOCHASTIC_TRANSFERS = ("santa",)')
    assert code_key("evaluation", constant_edit) != before["evaluation"]


def test_a_rename_changes_the_key(tmp_path):
    before = code_key("training")
    root = package_copy(tmp_path)
    for module in ("noise.py", "training.py", "santa.py"):
        text = (root / module).read_text()
        (root / module).write_text(text.replace("noisy_unit", "noisy_unit_vectors"))
    assert code_key("training", root) != before


def test_an_edit_of_the_reports_or_plumbing_keeps_the_result_keys(tmp_path):
    before = all_keys(None)
    root = package_copy(tmp_path)
    edit(root / "analysis" / "claims.py", "from __future__ import annotations",
         "from __future__ import annotations\nREPORT_EDIT = 1")
    edit(root / "runs.py", "    tmp = folder.with_name(folder.name + \".partial\")",
         "    tmp = folder.with_name(folder.name + \".writing\")")  # save_checkpoint: plumbing
    edit(root / "tracking.py", "from __future__ import annotations", "from __future__ import annotations\nEDIT = 1")
    after = all_keys(root)
    assert {c: after[c] for c in COMPONENTS} == {c: before[c] for c in COMPONENTS}
    assert after["package"] != before["package"]  # a study step's stamp does see a report edit


def test_the_declarations_name_real_definitions():
    everything = definitions()
    assert not sorted(PLUMBING - set(everything)), "a plumbing name that no longer exists"
    numeric = numeric_definitions()
    for component, roots in COMPONENTS.items():
        assert set(roots) <= set(numeric), component
    # the encoder's key covers the code that embeds and nothing that only trains heads or reports on them
    encoder = {d.name for d in closure(COMPONENTS["encoder"])}
    assert {"TagClap", "Yamnet", "MiniClap", "load_heads", "ensemble", "load_audio", "resample"} <= encoder
    assert not {"build_heads", "train_heads", "loso_gate", "select_defaults"} & encoder
    # training does not follow Santa, evaluation does; neither follows the encoders (keyed by their fingerprints)
    assert "TagClap" not in {d.name for d in closure(COMPONENTS["training"])}
    assert "mix_with_memory" not in {d.name for d in closure(COMPONENTS["training"])}
    assert "mix_with_memory" in {d.name for d in closure(COMPONENTS["evaluation"])}


def test_the_encoder_fingerprint_carries_the_encoder_code_key(monkeypatch):
    """The embedding cache is named by the fingerprint: edited encoder code must not read old embeddings."""
    import mats_lib.encoders.base as base
    from mats_lib.encoders import create_encoder

    encoder = create_encoder("tagclap", cache=False)
    before = encoder.fingerprint()
    monkeypatch.setattr(base, "roots_key", lambda roots: "edited" if roots == ("TagClap",) else "other")
    assert encoder.fingerprint() != before


def traced_functions(run) -> set[tuple[str, str]]:
    """(module under mats_lib/, top-level name) of every mats_lib function ``run()`` executes in this thread."""
    seen: set[tuple[str, str]] = set()
    package = str(PACKAGE_ROOT) + "/"

    def profile(frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(package):
                seen.add((code.co_filename, code.co_qualname))
        return None

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    out = set()
    for filename, qualname in seen:
        top = qualname.split(".")[0]
        if not top.startswith("<"):  # module bodies and module-level comprehensions
            out.add((str(Path(filename).relative_to(PACKAGE_ROOT)), top))
    return out


def unkeyed(executed: set[tuple[str, str]], component: str) -> list[str]:
    """Executed functions neither in the component's closure, nor plumbing, nor keyed by an encoder fingerprint
    (which every run and part carries: the backends' closures and the factories that pick them)."""
    hashed = {d.name for d in closure(COMPONENTS[component])} | {d.name for d in closure(BACKENDS)} | FINGERPRINTED
    return sorted(f"{module}:{name}" for module, name in executed
                  if name not in hashed and name not in PLUMBING and not is_plumbing_module(module))


def test_every_function_a_smoke_training_executes_is_keyed_or_plumbing(tmp_path, tmp_cache):
    from mats_lib.config import load_config
    from mats_lib.training import train

    cfg = load_config("smoke", {"train.output_dir": str(tmp_path / "runs"), "tracking.enabled": False,
                                "train.max_steps": 2, "train.save_every": 2})
    executed = traced_functions(lambda: train(cfg, progress=False))
    assert ("noise.py", "noisy_unit") in executed and ("model.py", "MATS") in executed  # the trace saw the loop
    assert unkeyed(executed, "training") == []


def test_every_function_a_smoke_evaluation_executes_is_keyed_or_plumbing(tiny_run, tmp_path):
    from mats_lib.runs import evaluation_config
    from mats_lib.evaluation import evaluate_run

    settings = evaluation_config(tiny_run, {"eval.transfers": ["plain", "added_noise", "memory", "santa",
                                                               "mean_shift"],
                                            "eval.tasks": ["cls_animals", "caption_scenes", "qa_scenes"],
                                            "eval.max_items": 2})
    executed = traced_functions(lambda: evaluate_run(tiny_run, settings, tmp_path / "eval", progress=False))
    assert ("santa.py", "mix_with_memory") in executed and ("metrics.py", "caption_metrics") in executed
    assert unkeyed(executed, "evaluation") == []


def test_the_completeness_check_flags_an_executed_function_outside_the_closure():
    executed = {("noise.py", "noisy_unit"), ("baselines.py", "question_type"), ("tracking.py", "MlflowTracker"),
                ("training.py", "save_checkpoint")}
    assert unkeyed(executed, "baselines") == ["noise.py:noisy_unit"]
    assert unkeyed({("data/tasks.py", "get_task"), ("encoders/yamnet.py", "Yamnet")}, "memory_bank") == \
        ["data/tasks.py:get_task"]
