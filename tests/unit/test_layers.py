"""The layering rules of DESIGN.md, enforced: the analysis is pure, only the UI imports gradio,
and importing e5ui stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "e5ui"
ANALYSIS_MAY_IMPORT = {"numpy", "scipy", "sklearn", "umap", "e5ui"}
FORBIDDEN = ("gradio", "torch", "transformers", "httpx", "e5ui.encoder")


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement in the file names (absolute names)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def is_stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names


def test_analysis_imports_only_numpy_scipy_sklearn_umap():
    files = sorted((PACKAGE / "analysis").glob("*.py"))
    assert {f.stem for f in files} >= {"similarity", "calibration", "neighbours", "bitext",
                                       "alignment", "projection", "retrieval", "centering"}
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
    bad.write_text("import numpy\nfrom e5ui.encoder import Encoder\nimport gradio as gr\n")
    names = imported_modules(bad)
    assert {"e5ui.encoder", "gradio"} <= names and is_stdlib("json") and not is_stdlib("numpy")


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
