"""The OpenVINO backend: a model converted once per model, revision and precision, kept in the
cache folder, and run by OpenVINO's CPU plugin.

Why OpenVINO with NNCF, and not optimum-intel: optimum-intel pins transformers 4.x, which e5ui
does not (it runs on transformers 5); ``openvino.convert_model`` traces the same transformers
model e5ui loads, and NNCF compresses it — two packages, no second copy of transformers.

Precisions (what ``--dtype`` means with ``--backend openvino``):

- ``float32``: OpenVINO's float32 kernels.
- ``bfloat16``: bf16 matrix work, on CPUs with bf16 units only (elsewhere it is emulated).
- ``int8-weights``: weights stored in int8 (NNCF weight compression), activations in bf16
  where the CPU has it, else float32: a quarter of float32's weight memory.
- ``int8``: weights and activations in int8 (NNCF post-training quantisation), the FFN output
  layers kept in higher precision (``ovbuild.INT8_KEEP``), and the activations of the
  layers kept quantised at run time in groups of ``DYNAMIC_GROUP``. Faster, less faithful:
  opt-in, with its cost measured and shown (``encoding.fidelity``).

Nothing here imports openvino until a model is built or loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from e5ui.cache import building_folder, cache_root
from e5ui.encoding.fidelity import weights_identity
from e5ui.hub import Located

logger = logging.getLogger(__name__)

PRECISIONS = ("float32", "bfloat16", "int8-weights", "int8")
INSTALL = 'pip install "e5ui[openvino]"  (or: pip install openvino nncf)'
# Bump when the conversion changes: models built before are rebuilt.
BUILD_VERSION = 1
MARKER = "e5ui.json"
# Runtime quantisation of activations, in groups of this many channels, for the int8 setting's
# layers that keep float weights after NNCF (the FFN output projections).
DYNAMIC_GROUP = 128


class OpenVINOUnavailable(ValueError):
    """The openvino (or nncf) package is missing; the message says how to install it."""


def missing_packages(precision: str = "float32") -> list[str]:
    """The packages the OpenVINO backend lacks for ``precision`` (nncf only for int8 ones)."""
    needed = ["openvino"] + (["nncf"] if precision.startswith("int8") else [])
    return [name for name in needed if importlib.util.find_spec(name) is None]


def available(precision: str = "float32") -> bool:
    """True when the OpenVINO backend can run ``precision`` here."""
    return not missing_packages(precision)


def require(precision: str = "float32") -> None:
    """Raises OpenVINOUnavailable, in one line with the install command, when packages lack."""
    missing = missing_packages(precision)
    if missing:
        raise OpenVINOUnavailable(
            f"The OpenVINO backend needs {' and '.join(missing)}, which is not installed: "
            f"{INSTALL}")


def model_folder(located: Located, precision: str, root: Path | None = None) -> Path:
    """Where the converted model of ``located`` at ``precision`` is kept."""
    digest = hashlib.sha256(f"v{BUILD_VERSION}\x00{precision}\x00{weights_identity(located)}"
                            .encode("utf-8", "surrogatepass")).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", located.model_id)[-60:]
    return (root or cache_root() / "openvino") / f"{safe}-{precision}-{digest}"


def _complete(folder: Path, precision: str) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (marker.get("version") == BUILD_VERSION and marker.get("precision") == precision
            and (folder / "model.xml").is_file() and (folder / "model.bin").is_file())


def run_child(args: list[str], progress: Callable[[str], None] | None = None) -> None:
    """Runs ``python -m e5ui.encoding.ovbuild ARGS``, relaying its steps to the log and to
    ``progress``; raises RuntimeError with the end of its error output when it fails."""
    from e5ui.encoding import ovbuild

    cmd = [sys.executable, "-m", "e5ui.encoding.ovbuild", *args]
    # The child imports this very e5ui, installed or not (a checkout run as ``python app.py``).
    here = str(Path(__file__).resolve().parent.parent.parent)
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path)
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as errors:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True,
                                   encoding="utf-8", env=env)
        done = False
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            if line.startswith(ovbuild.STEP):
                text = line[len(ovbuild.STEP):]
                logger.info("OpenVINO: %s", text)
                if progress:
                    progress(text)
            elif line == ovbuild.DONE:
                done = True
        code = process.wait()
        if code != 0 or not done:
            errors.seek(0)
            tail = [ln for ln in errors.read().splitlines() if ln.strip()][-3:]
            raise RuntimeError(f"the OpenVINO conversion failed (exit code {code}): "
                               + (" / ".join(tail) or "no output"))


def ensure_model(located: Located, precision: str, max_length: int,
                 progress: Callable[[str], None] | None = None,
                 root: Path | None = None) -> Path:
    """Returns the folder of ``located``'s OpenVINO model at ``precision``, converting it once.

    The conversion runs in a child process into a temporary sibling folder that is renamed
    into place only when complete, under a file lock, so a crash never leaves a folder that
    loads and two processes never convert the same model at once.

    Raises:
        OpenVINOUnavailable: openvino (or nncf, for int8) is not installed.
        ValueError: an unknown precision.
        RuntimeError: the conversion failed (its message ends with the child's last errors).
    """
    from filelock import FileLock

    if precision not in PRECISIONS:
        raise ValueError(f"Unknown OpenVINO precision: {precision!r}. "
                         f"Must be one of: {', '.join(PRECISIONS)}")
    require(precision)
    target = model_folder(located, precision, root)
    if _complete(target, precision):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".build.lock")):
        if _complete(target, precision):  # another process finished it while we waited
            return target
        logger.info("Converting %s to OpenVINO %s into %s (once)", located.model_id, precision,
                    target)
        with building_folder(target) as tmp:
            run_child(["--model-dir", str(located.path), "--max-length", str(max_length),
                       "--precision", precision, "--out", str(tmp)], progress)
            child = json.loads((tmp / "child.json").read_text(encoding="utf-8"))
            marker = {"version": BUILD_VERSION, "precision": precision,
                      "model": located.model_id, "revision": located.revision,
                      "source": str(located.path), **child}
            # Written last: a folder without it is never treated as complete.
            (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return target


def runtime_config(precision: str, native_bf16: bool) -> dict:
    """The CPU plugin's settings for ``precision``: the inference precision and whether
    activations are quantised at run time."""
    float_kind = "bf16" if native_bf16 and precision != "float32" else "f32"
    return {
        "INFERENCE_PRECISION_HINT": float_kind,
        "PERFORMANCE_HINT": "LATENCY",
        # Off except for int8: with run-time activation quantisation (groups of 32) the bundled
        # model's int8-weights kept 97.4% of top-10 neighbours instead of 98.6%, at the edge of
        # the faithful threshold (0.97), for ~10% more speed.
        "DYNAMIC_QUANTIZATION_GROUP_SIZE": DYNAMIC_GROUP if precision == "int8" else 0,
    }


class OpenVINOModel:
    """A converted model compiled for this CPU: token ids in, mean-pooled float32 vectors out.

    Not safe to call from two threads at once (one infer request); the encoder's lock
    serialises calls.
    """

    def __init__(self, folder: Path, precision: str, native_bf16: bool):
        import openvino as ov

        core = ov.Core()
        self.folder = folder
        self.config = runtime_config(precision, native_bf16)
        self._compiled = core.compile_model(core.read_model(str(folder / "model.xml")), "CPU",
                                            self.config)
        self._request = self._compiled.create_infer_request()
        self.openvino_version = ov.__version__

    def pooled(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean of the last hidden states over the attention mask, in float32."""
        hidden = self._request.infer({"input_ids": input_ids, "attention_mask": mask})[0]
        m = mask[..., None].astype(np.float32)
        return (np.asarray(hidden, dtype=np.float32) * m).sum(axis=1) / np.maximum(
            m.sum(axis=1), 1.0)
