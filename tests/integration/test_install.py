"""e5ui as an installed package: build the wheel, install it into a fresh virtual environment,
and run the CLI from a folder outside the checkout (assets must come from the package)."""

from __future__ import annotations

import csv
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ASSETS, ROOT

pytestmark = pytest.mark.integration


def run(cmd: list, cwd: Path, env: dict | None = None, timeout: int = 600):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of what the package is made of, so the checkout gets no build/ or
    # egg-info folder.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy2(ROOT / name, src / name)
    for folder in ("e5ui", "assets"):
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", out, src], cwd=src)
    (path,) = out.glob("e5ui-*.whl")
    return path


def test_the_wheel_carries_every_asset_the_app_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"e5ui/assets/{p.relative_to(ASSETS).as_posix()}" for p in ASSETS.rglob("*")
               if p.is_file() and p.suffix not in (".png", ".py")}
    assert shipped <= names, sorted(shipped - names)
    assert "e5ui/ui/__init__.py" in names and "e5ui/analysis/bitext.py" in names


def dependency_dirs() -> list[str]:
    """The folders this interpreter imports installed packages from (site-packages, a Debian
    python's dist-packages, the user's site), in its own order; never the checkout."""
    wanted = {*site.getsitepackages(), *(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))}
    if site.ENABLE_USER_SITE:
        wanted.add(site.getusersitepackages())
    wanted = {os.path.realpath(d) for d in wanted if os.path.isdir(d)}
    ordered = [os.path.realpath(p) for p in sys.path if os.path.realpath(p) in wanted]
    return list(dict.fromkeys(ordered + sorted(wanted)))


def test_installed_cli_runs_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    # The dependencies (torch, transformers, ...) come from this interpreter's site-packages,
    # named in a .pth file; e5ui itself only from the wheel. Not --system-site-packages: run
    # from inside a virtual environment, that gives the base interpreter's packages, not the
    # environment's, where the dependencies are.
    run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=tmp_path).stdout.strip()
    Path(purelib, "e5ui-test-deps.pth").write_text("\n".join(dependency_dirs()) + "\n",
                                                   encoding="utf-8")
    run([python, "-m", "pip", "install", "--no-deps", "-q", wheel], cwd=tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    texts = work / "x.txt"
    texts.write_text("The cat sleeps.\nDie Katze schläft.\nStocks fell sharply.\n",
                     encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "E5UI_ASSETS")}
    env["HF_HUB_OFFLINE"] = "1"
    where = run([venv / "bin" / "python", "-c", "import e5ui, e5ui.resources as r; "
                 "print(e5ui.__file__); print(r.ASSETS_DIR)"], cwd=work, env=env).stdout
    package, assets = where.split()
    assert str(venv) in package and Path(assets) == Path(package).parent / "assets"
    proc = run([venv / "bin" / "e5ui", "similarity", texts, "--model", "bundled", "-q",
                "--out", "m.csv"], cwd=work, env=env)
    assert "most similar pairs" in proc.stdout
    with open(work / "m.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 4 and len(rows[0]) == 4
