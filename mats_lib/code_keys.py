"""Code keys: which code a result's numbers come from, hashed so that tidying the code keeps every key.

A result (a run, an evaluation part, a memory bank, a baseline, MiniCLAP's heads, an encoder's embeddings) is
reused only when its key matches, and its key covers the code that computed it. Hashing whole source files
(the scheme before this one) froze the layout: moving a function or fixing a docstring re-keyed 18 runs. Here
the unit is the *definition*: each top-level function, class or constant of ``mats_lib`` is hashed on its own
syntax tree, with docstrings, comments, imports and annotations left out and module-qualified names
(``santa.retrieve``) read as bare names (``retrieve``). A definition is named by its name alone, never by its
module, so moving it to another file keeps its hash.

A *component* (training, evaluation, ...) is a set of root names; its code key hashes the closure of the roots
under "mentions": every definition whose name appears in a hashed definition's body is hashed too (an
over-approximation: a local variable that shares a top-level name pulls that definition in, which can only
make a key change more often, never less). Plumbing cannot change a number and is neither hashed nor followed:
whole modules (keys, paths, logging, commands, reports) and named definitions inside numeric modules
(checkpoint lookup and saving). A renamed definition changes the key (its tree changes), and so does any edit of
a constant, a default or an expression in the closure.

The closure is static, so a definition reached only dynamically (an instance whose class is never named, a
``getattr`` by string) would be missed: ``tests/test_code_keys.py`` traces a smoke training and evaluation and
checks that every ``mats_lib`` function they execute is either in its component's closure or plumbing.

    python -m mats_lib.code_keys                 # every component's key and size
    python -m mats_lib.code_keys training        # its key and every hashed definition
"""
from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
SCHEME = "ast-closure-1"  # bump when the normalisation below changes: every key changes with it
# A module's top-level statements that bind no name (``register_task(...)`` calls filling the task registry) can
# change numbers but are mentioned by nobody: they are hashed together, and follow any definition of their module.
MODULE_STATEMENTS = "<module statements>"

# Modules that cannot change a number: keys and provenance, paths, settings parsing (the settings' *values* are
# hashed where they are used), logging, checkpoint I/O (the bytes are hashed), commands and the study's reports.
PLUMBING_MODULES = (
    "code_keys.py", "provenance.py", "paths.py", "config.py", "tracking.py", "checkpoints.py", "steps.py",
    "study/*.py", "train.py", "evaluate.py", "check.py", "assets.py", "analysis/*.py", "encoders/cache.py",
    "cli/*.py", "__init__.py",
)
# Definitions inside numeric modules that cannot change a number: where runs and checkpoints are named, keyed,
# found and saved (runs.py, all but load_run, which builds the model), how a process joins its group, errors.
# Named, never matched by pattern, so that a new definition is hashed by default.
PLUMBING = frozenset({
    "KEY_FILE", "NAMED", "RUN_KINDS", "MAKE_TARGET", "StaleRunError", "MissingRunError", "_flat", "_short", "run_name",
    "run_dir", "run_config", "run_kind", "finished_run", "data_fingerprint", "training_key", "write_key", "read_key",
    "latest_checkpoint", "set_aside", "check_run_key", "save_checkpoint", "find_checkpoint", "checkpoint_config",
    "noise_variance_of", "LoadedRun",
    "_distributed", "TrainResult", "ZeroShotError", "EncoderMismatchError", "StalePartError", "CheckpointError",
    "default_heads_path", "main",
})

# Every result that uses an encoder carries its fingerprint, which holds the code key of the backend's class
# (``AudioTextEncoder.fingerprint``): the factories that pick a backend by name are not followed from any other
# component, so an edit of one backend re-keys what used that backend and nothing else.
FINGERPRINTED = frozenset({"create_encoder", "encoder_from_config"})

# Each component's roots: what its results are computed by. Everything they mention is followed.
COMPONENTS: dict[str, tuple[str, ...]] = {
    # every encoder backend together (each backend's fingerprint keys its own class's closure)
    "encoder": ("TagClap", "MiniClap", "MSClap", "LaionClap"),
    # a training run's weights (the encoder's code enters through its fingerprint, and is followed here too)
    "training": ("train",),
    # an evaluation part's numbers (the run's own key and checkpoint bytes are in the part's key)
    "evaluation": ("evaluate_run",),
    # Santa's memory bank (subsampled, k-means'd training texts)
    "memory_bank": ("memory_bank",),
    # the constant-caption and question-only floors
    "baselines": ("best_constant_caption", "constant_caption_items", "constant_answer_items", "fit_question_prior",
                  "question_prior_items"),
    # MiniCLAP's heads file (its bytes enter the miniclap encoder's fingerprint)
    "miniclap_heads": ("build_heads",),
    # MiniAudio and AudioTIA-mini under build/data (rebuilt when this key changes; runs hash the built files)
    "data": ("build_all",),
}


@dataclass(frozen=True)
class Definition:
    module: str  # relative path under mats_lib/, for the reader only: never hashed
    name: str
    digest: str  # SHA-256 of the normalised syntax tree
    mentions: frozenset[str]


class _Normalise(ast.NodeTransformer):
    """Drop what cannot change a number: docstrings and bare strings, imports, annotations of arguments and
    returns; read ``module.name`` as ``name`` for the package's own modules."""

    def __init__(self, module_aliases: set[str]):
        self.module_aliases = module_aliases

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                        and isinstance(s.value.value, str))
                and not isinstance(s, (ast.Import, ast.ImportFrom))]
        return kept or [ast.Pass()]

    def generic_visit(self, node):
        node = super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self._body(value))
        return node

    def visit_arg(self, node: ast.arg):
        node.annotation = None
        return node

    def _function(self, node):
        node.returns = None
        return self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Attribute(self, node: ast.Attribute):
        node = self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id in self.module_aliases:
            return ast.copy_location(ast.Name(id=node.attr, ctx=node.ctx), node)
        return node


def _package_module_aliases(tree: ast.Module, base: Path) -> set[str]:
    """Names a file binds to modules of this package (``from . import santa``, ``import mats_lib.x as y``)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("mats_lib")):
            for alias in node.names:
                # `from .x import y` binds y; it names a module only when y is one of ours
                if (base / (node.module or "").replace(".", "/") / f"{alias.name}.py").exists() or \
                        (base / alias.name).is_dir() or (node.module is None and node.level > 0):
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mats_lib"):
                    aliases.add(alias.asname or alias.name.split(".")[0])
    return aliases


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def _is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "__name__" in ast.dump(node.test)


def module_definitions(path: Path, base: Path = PACKAGE_ROOT) -> list[Definition]:
    """Every top-level function, class and assignment of one file of the package at ``base``, normalised and
    hashed."""
    module = str(path.relative_to(base))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    normalise = _Normalise(_package_module_aliases(tree, base))
    out, statements = [], []
    for node in normalise._body(tree.body):  # without the module's docstring and imports
        names = _bound_names(node)
        if _is_main_guard(node) or isinstance(node, ast.Pass):
            continue
        node = normalise.visit(node)
        if not names:  # e.g. the task registry's register_task(...) calls: kept together, below
            statements.append(node)
            continue
        dump = ast.dump(node, annotate_fields=True, include_attributes=False)
        mentions = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) - set(names)
        digest = hashlib.sha256(dump.encode()).hexdigest()
        out += [Definition(module, name, digest, mentions) for name in names]
    if statements:
        dump = ast.dump(ast.Module(body=statements, type_ignores=[]), include_attributes=False)
        mentions = frozenset(n.id for s in statements for n in ast.walk(s) if isinstance(n, ast.Name))
        out.append(Definition(module, MODULE_STATEMENTS, hashlib.sha256(dump.encode()).hexdigest(), mentions))
    return out


def _index_name(d: Definition) -> str:
    """The index holds a module's top-level statements under the module, everything else under its name."""
    return f"{MODULE_STATEMENTS} of {d.module}" if d.name == MODULE_STATEMENTS else d.name


def is_plumbing_module(module: str) -> bool:
    return any(fnmatch.fnmatch(module, pattern) for pattern in PLUMBING_MODULES)


@lru_cache(maxsize=4)
def _index(root: str) -> dict[str, tuple[Definition, ...]]:
    index: dict[str, list[Definition]] = {}
    base = Path(root)
    for path in sorted(base.rglob("*.py")):
        for d in module_definitions(path, base):
            index.setdefault(_index_name(d), []).append(d)
    return {name: tuple(defs) for name, defs in index.items()}


def definitions(root: Path | None = None) -> dict[str, tuple[Definition, ...]]:
    """Every definition of the package by name (a name defined in two modules has two); ``root``: a copy of the
    package elsewhere (the tests edit copies), read once per process like the package itself."""
    return _index(str(root or PACKAGE_ROOT))


def numeric_definitions(root: Path | None = None) -> dict[str, tuple[Definition, ...]]:
    """The definitions that can change a number: outside the plumbing modules and not on the plumbing list."""
    out = {}
    for name, defs in definitions(root).items():
        kept = tuple(d for d in defs if not is_plumbing_module(d.module))
        if kept and name not in PLUMBING:
            out[name] = kept
    return out


def closure(roots: tuple[str, ...] | list[str], root: Path | None = None) -> list[Definition]:
    """The numeric definitions the roots mention, directly or through each other, in name order; the encoder
    factories are not followed (``FINGERPRINTED``)."""
    index = numeric_definitions(root)
    missing = [r for r in roots if r not in index]
    if missing:
        raise KeyError(f"code key roots {missing} are not numeric definitions of mats_lib (moved to a plumbing "
                       f"module, renamed or removed?): update COMPONENTS in {Path(__file__).name}")
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in index or (name in FINGERPRINTED and name not in roots):
            continue
        seen.add(name)
        for d in index[name]:
            todo += [m for m in d.mentions if m not in seen] + [f"{MODULE_STATEMENTS} of {d.module}"]
    return sorted((d for name in seen for d in index[name]), key=lambda d: (d.name, d.digest))


def component_roots(component: str) -> tuple[str, ...]:
    if component not in COMPONENTS:
        raise KeyError(f"unknown code component {component!r}; known: {', '.join(COMPONENTS)}")
    return COMPONENTS[component]


def code_manifest(component: str, root: Path | None = None) -> dict[str, str]:
    """{definition name: short hash} of what the component's key covers (two same-named definitions: both), for
    a reader asking which definitions changed a key."""
    out: dict[str, str] = {}
    for d in closure(component_roots(component), root):
        name = _index_name(d)
        out[name] = d.digest[:12] if name not in out else f"{out[name]}+{d.digest[:12]}"
    return out


def _definitions_key(defs: list[Definition]) -> str:
    """A hash of the scheme and of each definition's name and tree (``defs`` in name order)."""
    blob = json.dumps([SCHEME, [(d.name, d.digest) for d in defs]])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def roots_key(roots: tuple[str, ...] | list[str], root: Path | None = None) -> str:
    """The key of the roots' closure."""
    return _definitions_key(closure(roots, root))


def code_key(component: str, root: Path | None = None) -> str:
    """The component's code key (``COMPONENTS``)."""
    return roots_key(component_roots(component), root)


def package_key(root: Path | None = None) -> str:
    """Every definition of the package, plumbing and reports included (a study step's code input): layout,
    docstrings and comments are left out here too."""
    return _definitions_key(sorted((d for ds in definitions(root).values() for d in ds), key=lambda d: (d.name, d.digest)))


def changed_definitions(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Names whose hash differs, was added or removed between two manifests (what re-keyed a result)."""
    return sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        for component in sys.argv[1:]:
            print(f"{component}: {code_key(component)}")
            for name, digest in code_manifest(component).items():
                module = sorted({d.module for d in definitions()[name]})
                print(f"  {name:32s} {digest}  {', '.join(module)}")
    else:
        for component in COMPONENTS:
            print(f"{component:16s} {code_key(component)}  {len(code_manifest(component))} definitions")
        print(f"{'package':16s} {package_key()}  {sum(len(v) for v in definitions().values())} definitions")
