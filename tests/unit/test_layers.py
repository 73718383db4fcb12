"""The layering rules of DESIGN.md, enforced: the analysis is pure, only the UI imports gradio,
importing e5ui stays light, and no module imports a layer above its own (the rule is the
``layers`` block under README.md's "## Architecture")."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "e5ui"
ANALYSIS_MAY_IMPORT = {"numpy", "scipy", "sklearn", "umap", "e5ui"}
FORBIDDEN = ("gradio", "torch", "transformers", "httpx", "e5ui.encoding")


def module_name(path: Path) -> str:
    """The dotted name of a file of the checkout (``e5ui/views/__init__.py`` -> ``e5ui.views``)."""
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    """Every module an import statement in the file names, as absolute names.

    ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (c may be a module or a name in one);
    relative imports are resolved against ``module``, the file's dotted name (by default from
    its place in the checkout; a file elsewhere is a top-level module), so
    ``from ..analysis import x`` in ``e5ui/views/y.py`` gives ``e5ui.analysis`` and
    ``e5ui.analysis.x``.
    """
    if module is None:
        module = module_name(path) if path.resolve().is_relative_to(ROOT) else path.stem
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 >= len(parts):
                    raise ValueError(f"{path}: a relative import goes above the top package")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def is_stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names


def test_analysis_imports_only_numpy_scipy_sklearn_umap():
    files = sorted((PACKAGE / "analysis").glob("*.py"))
    assert {f.stem for f in files} >= {"similarity", "calibration", "neighbours", "hubness",
                                       "bitext", "alignment", "projection", "retrieval",
                                       "centering"}
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert is_stdlib(name) or top in ANALYSIS_MAY_IMPORT, f"{path.name} imports {name}"
            if top == "e5ui":
                assert name.startswith("e5ui.analysis"), f"{path.name} imports {name}"


def test_analysis_loads_no_model_server_or_ui_at_run_time():
    code = (
        "import sys, numpy as np\n"
        "from e5ui.analysis import (alignment, bitext, calibration, centering, neighbours,\n"
        "    projection, retrieval, similarity)\n"
        "x = np.random.default_rng(0).normal(size=(30, 8)).astype('float32')\n"
        "similarity.aggregate(x); bitext.match(x, x); neighbours.search(x, x, 3)\n"
        "projection.project(x, method='pca'); calibration.baseline_from_embeddings(x, 'm')\n"
        f"print([m for m in {FORBIDDEN!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert out.strip() == "[]"


def test_the_layer_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import numpy\nfrom e5ui.encoding import Encoder\nimport gradio as gr\n")
    names = imported_modules(bad)
    assert {"e5ui.encoding", "gradio"} <= names and is_stdlib("json") and not is_stdlib("numpy")


def test_only_the_ui_imports_gradio():
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "ui":
            continue
        assert not any(n.split(".")[0] == "gradio" for n in imported_modules(path)), path


def test_importing_e5ui_and_its_cli_stays_light():
    code = ("import sys, e5ui, e5ui.__main__, e5ui.views\n"
            "print([m for m in ('torch', 'transformers', 'gradio') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"


# --- the layers -------------------------------------------------------------------------------
# The facade's lazy re-exports (Encoder, RemoteEncoder, EmbeddingCache) reach into any layer by
# design; every other module of e5ui is held to the rule.
FACADE = "e5ui"


def read_layer_rule(readme: Path = ROOT / "README.md") -> list[list[str]]:
    """The ``layers`` block under README's "## Architecture": its lines (lowest first), each a
    list of names (a module or package under e5ui, or a glob); ``#`` starts a comment."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```layers\n(.*?)^```", section, re.M | re.S)
    assert found, "README's Architecture section has no ```layers block"
    rule = [line.split("#", 1)[0].split() for line in found.group(1).splitlines()]
    return [names for names in rule if names]


def layer_of(name: str, rule: list[list[str]]) -> int | None:
    """The line of the rule that holds ``name`` (absolute, under e5ui): a rule name covers the
    module of that name and everything under it. None when no line holds it."""
    rel = name.removeprefix("e5ui.")
    lines = {i for i, names in enumerate(rule) for pattern in names
             if fnmatchcase(rel, pattern) or fnmatchcase(rel, pattern + ".*")}
    assert len(lines) <= 1, f"{name} is on several lines of the layer rule: {sorted(lines)}"
    return lines.pop() if lines else None


def layer_violations(path: Path, rule: list[list[str]], module: str | None = None) -> list[str]:
    """What in ``path`` breaks the rule: an import of a line below the file's own, of a module of
    e5ui on no line, or a file on no line."""
    module = module or module_name(path)
    if module == FACADE:
        return []
    own = layer_of(module, rule)
    if own is None:
        return [f"{module} is on no line of the layer rule"]
    problems = []
    for name in sorted(imported_modules(path, module)):
        if name == "e5ui" or not name.startswith("e5ui."):
            continue  # the package itself (every submodule's parent) or not e5ui
        line = layer_of(name, rule)
        if line is None:
            problems.append(f"{module} imports {name}, which is on no line of the layer rule")
        elif line > own:
            problems.append(f"{module} (line {own + 1}) imports {name} (line {line + 1}, above)")
    return problems


def test_no_module_imports_a_layer_above_its_own():
    rule = read_layer_rule()
    problems = [p for path in sorted(PACKAGE.rglob("*.py")) for p in layer_violations(path, rule)]
    assert problems == []


def test_the_layer_rule_keeps_the_analysis_at_the_bottom_and_the_ui_at_the_top():
    rule = read_layer_rule()
    assert rule[0] == ["analysis"]  # pure: it may import nothing of e5ui but itself
    line = {name: layer_of(f"e5ui.{name}", rule) for name in
            ("models", "plots", "textio", "encoding", "views", "ui", "__main__")}
    assert 0 < line["models"] < line["textio"] < line["encoding"], line
    assert line["plots"] < line["encoding"], line  # a figure never needs a model
    assert line["encoding"] < line["views"] < line["ui"] < line["__main__"], line


RULE = [["analysis"], ["models", "cache"], ["textio"], ["enc*"], ["views"], ["ui", "__main__"]]


@pytest.mark.parametrize("source, bad", [
    ("from ..views import common\n", "e5ui.views"),
    ("from ..views.common import Table\n", "e5ui.views.common"),
    ("from .. import encoding\n", "e5ui.encoding"),
    ("from e5ui.encoding.remote import http\n", "e5ui.encoding.remote"),
    ("import e5ui.ui.common\n", "e5ui.ui.common"),
    ("from e5ui import Encoder\n", "e5ui.Encoder"),
])
def test_the_layer_check_catches_an_import_of_a_higher_layer(tmp_path, source, bad):
    path = tmp_path / "bad.py"
    path.write_text("from . import similarity\nfrom ..cache import cache_root\n" + source)
    problems = layer_violations(path, RULE, module="e5ui.textio.bad")
    assert len(problems) >= 1 and all(bad in p for p in problems), problems
    # The same file one layer higher is allowed what it imports from below.
    if bad.startswith("e5ui.views"):
        assert layer_violations(path, RULE, module="e5ui.ui.bad") == []


def test_relative_imports_are_resolved_to_absolute_names(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from . import a\nfrom .b import c\n")
    (package / "mod.py").write_text("from . import a\nfrom ..analysis import x\n"
                                    "from ..analysis.similarity import as_matrix\n")
    names = imported_modules(package / "mod.py", module="e5ui.views.mod")
    assert {"e5ui.views", "e5ui.views.a", "e5ui.analysis", "e5ui.analysis.x",
            "e5ui.analysis.similarity", "e5ui.analysis.similarity.as_matrix"} <= names
    assert {"e5ui.views.a", "e5ui.views.b", "e5ui.views.b.c"} <= imported_modules(
        package / "__init__.py", module="e5ui.views")
    (package / "far.py").write_text("from .... import x\n")
    with pytest.raises(ValueError, match="above the top package"):
        imported_modules(package / "far.py", module="e5ui.views.far")


def test_every_module_is_on_one_line_of_the_rule_and_a_missing_one_is_named(tmp_path):
    rule = read_layer_rule()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        assert module == FACADE or layer_of(module, rule) is not None, module
    stray = tmp_path / "stray.py"
    stray.write_text("import json\n")
    assert layer_violations(stray, RULE, module="e5ui.stray") == [
        "e5ui.stray is on no line of the layer rule"]
