"""What a faster setting costs: measured once per model and setting on this CPU, kept, and said
in one line.

On first use of a setting other than torch float32, the calibration reference set (336
mutually unrelated sentences in 24 languages) is encoded in float32 by a child process
(``ovbuild``; timed, and in torch bfloat16 too where the CPU has it) and with the setting by
another child (so the sample never adds to the peak memory of the process that serves);
``analysis.fidelity`` compares the two. The record is kept as JSON under ``<cache
root>/fidelity``, keyed by everything that changes the numbers: the weights, the setting, the
token limit, the sample, OpenVINO's version and the CPU's bf16 units.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from e5ui.analysis.fidelity import Agreement, agreement
from e5ui.cache import cache_root

logger = logging.getLogger(__name__)

# Bump when the measurement changes: older records are measured again.
FIDELITY_VERSION = 1


@dataclass(frozen=True)
class Fidelity:
    """A setting's agreement with float32 and its speed, on this CPU.

    Attributes:
        backend: "torch" or "openvino".
        precision: the setting's dtype ("bfloat16", "int8-weights", "int8" ...).
        agreement: min and 1st-percentile cosine, top-10 overlap, largest percentile shift.
        seconds: the setting's time for the sample.
        float32_seconds: torch float32's time for the same sample.
        torch_seconds: torch's own default's time (bfloat16 where the CPU has bf16 units), or
            None where that default is float32.
        cpu: the CPU's model and flags, as measured.
    """

    backend: str
    precision: str
    agreement: Agreement
    seconds: float
    float32_seconds: float
    torch_seconds: float | None
    cpu: str

    @property
    def faithful(self) -> bool:
        return self.agreement.faithful

    def line(self) -> str:
        """One line: speed against torch here, and how close to float32 it stays."""
        a = self.agreement
        speed = f"{self.float32_seconds / self.seconds:.1f}× torch float32's speed here"
        if self.torch_seconds and not (self.backend == "torch"
                                       and self.precision == "bfloat16"):
            speed = (f"{self.torch_seconds / self.seconds:.1f}× torch bfloat16's speed here "
                     f"({self.float32_seconds / self.seconds:.1f}× float32's)")
        return (f"{self.backend} {self.precision}: {speed}; cosine to float32 ≥ {a.min_cos:.4f} "
                f"for every text; {a.top10_overlap:.0%} of top-10 neighbours unchanged; "
                f"calibrated percentiles move ≤ {a.max_percentile_shift:.1f} points "
                f"(measured on {a.texts} texts)")

    def short(self) -> str:
        """The line's gist, for a narrow panel: speed against torch, min cosine, top-10."""
        base = self.torch_seconds if self.torch_seconds and not (
            self.backend == "torch" and self.precision == "bfloat16") else self.float32_seconds
        name = "torch bf16" if base == self.torch_seconds else "torch fp32"
        a = self.agreement
        return (f"{base / self.seconds:.1f}× {name} · cos ≥ {a.min_cos:.4f} · "
                f"top-10 {a.top10_overlap:.0%}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["faithful"] = self.faithful
        out["line"] = self.line()
        out["short"] = self.short()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fidelity:
        fields = {k: data[k] for k in ("backend", "precision", "seconds", "float32_seconds",
                                       "torch_seconds", "cpu")}
        return cls(agreement=Agreement(**data["agreement"]), **fields)


def weights_identity(located: Any) -> str:
    """What names a model's weights: the hub revision, or for a local folder its path and
    the size and time of its weight and config files (a retrained model is measured again)."""
    parts = [located.model_id, str(located.revision), str(located.path)]
    for name in sorted(os.listdir(located.path)):
        if name.endswith((".safetensors", ".bin", "config.json")):
            st = (Path(located.path) / name).stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "\x00".join(parts)


def cpu_signature() -> str:
    """The CPU's model name and the flags that change bf16 and int8 arithmetic."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        import platform

        return platform.processor() or "unknown CPU"
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
                 "unknown CPU")
    flags = next((ln for ln in lines if ln.startswith("flags")), "").split()
    kept = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                        "amx_bf16", "amx_int8") if f in flags]
    return f"{model} ({' '.join(kept) or 'no avx2'})"


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _folder(root: Path | None) -> Path:
    return (root or cache_root()) / "fidelity"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-60:]


def sample_inputs(encoder: Any) -> list[str]:
    """The fidelity sample as the model reads it: the calibration reference set, symmetric."""
    from e5ui.baselines import reference_texts

    return encoder.format(reference_texts(), "symmetric")


# The child's jobs on the sample: the option naming its .npz, and the key of its vectors there.
_JOBS = {"reference": ("--reference", "float32"), "candidate": ("--vectors", "vectors")}


def _sample_in_child(encoder: Any, sample: list[str], kind: str, args: list[str],
                     progress: Callable[[str], None] | None, folder: Path,
                     keep: Path | None = None) -> dict[str, np.ndarray]:
    """The arrays ``ovbuild``'s child writes for ``sample`` (``kind``: "reference" or
    "candidate"; ``args``: the job's options), checked to hold one vector per text; the .npz
    is moved to ``keep`` when given."""
    from e5ui.encoding import openvino as ovb

    out_option, vectors_key = _JOBS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{kind}-") as tmp:
        sample_file = Path(tmp) / "sample.json"
        sample_file.write_text(json.dumps(sample), encoding="utf-8")
        out_file = Path(tmp) / f"{kind}.npz"
        ovb.run_child(["--model-dir", str(encoder.located.path), "--max-length",
                       str(encoder.max_length), "--sample", str(sample_file),
                       *args, out_option, str(out_file)], progress)
        with np.load(out_file) as data:
            out = {k: data[k] for k in data.files}
        vectors = out[vectors_key]
        if vectors.shape != (len(sample), encoder.dim):
            raise RuntimeError(f"the {kind} vectors of the fidelity sample have shape "
                               f"{vectors.shape}, not {(len(sample), encoder.dim)}")
        if keep is not None:
            os.replace(out_file, keep)
    return out


def reference(encoder: Any, sample: list[str], native_bf16: bool,
              progress: Callable[[str], None] | None = None,
              root: Path | None = None) -> dict[str, np.ndarray]:
    """The sample's float32 vectors and timings (and torch bfloat16's where the CPU has it),
    computed once per model by a child process and kept as .npz."""
    located = encoder.located
    folder = _folder(root)
    name = _digest(f"v{FIDELITY_VERSION}", weights_identity(located), str(encoder.max_length),
                   str(native_bf16), cpu_signature(), *sample)
    target = folder / f"{_safe(located.model_id)}-reference-{name}.npz"
    try:
        with np.load(target) as data:
            out = {k: data[k] for k in data.files}
        if out["float32"].shape == (len(sample), encoder.dim):
            return out
    except (OSError, ValueError, KeyError):
        pass
    return _sample_in_child(encoder, sample, "reference", ["--bf16"] if native_bf16 else [],
                            progress, folder, keep=target)


def candidate(encoder: Any, backend: str, precision: str, sample: list[str],
              progress: Callable[[str], None] | None = None,
              root: Path | None = None) -> tuple[np.ndarray, float]:
    """The sample's vectors and seconds with ``encoder``'s setting (model, backend, precision,
    token limit and budget), encoded by a child process: the 336 texts' buffers and the pages
    they touch then never add to the peak of the process that serves the user."""
    out = _sample_in_child(encoder, sample, "candidate",
                           ["--candidate", f"{backend}:{precision}", "--token-budget",
                            str(encoder.token_budget)], progress, _folder(root))
    return out["vectors"], float(out["seconds"])


def measure(encoder: Any, backend: str, precision: str, native_bf16: bool,
            progress: Callable[[str], None] | None = None,
            root: Path | None = None) -> Fidelity:
    """The setting's Fidelity on this CPU: read back when it was measured before, else
    measured now (the reference and the candidate each by a child process) and kept.

    Args:
        encoder: the local encoder running the setting (its ``located``, ``format``,
            ``max_length`` and ``token_budget`` are used).
        backend, precision: the setting, as the record names it.
        native_bf16: whether the CPU has bf16 units (then torch bfloat16 is timed too).
        progress: called with a line per step of the first measurement.
        root: the cache root (default ``cache_root()``).
    """
    sample = sample_inputs(encoder)
    openvino_version = getattr(getattr(encoder, "_ov", None), "openvino_version", "")
    name = _digest(f"v{FIDELITY_VERSION}", weights_identity(encoder.located), backend,
                   precision, str(encoder.max_length), openvino_version, cpu_signature(),
                   *sample)
    target = _folder(root) / f"{_safe(encoder.located.model_id)}-{backend}-{precision}-{name}.json"
    try:
        return Fidelity.from_dict(json.loads(target.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("Ignoring unreadable fidelity record %s (%s); measuring again", target,
                       exc)
    ref = reference(encoder, sample, native_bf16, progress, root)
    logger.info("Measuring %s %s against float32 on %d texts (once)", backend, precision,
                len(sample))
    vectors, seconds = candidate(encoder, backend, precision, sample, progress, root)
    record = Fidelity(
        backend=backend, precision=precision, agreement=agreement(ref["float32"], vectors),
        seconds=seconds, float32_seconds=float(ref["float32_seconds"]),
        torch_seconds=float(ref["bfloat16_seconds"]) if "bfloat16_seconds" in ref else None,
        cpu=cpu_signature())
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        logger.warning("Could not keep the fidelity record in %s (%s)", target.parent, exc)
    return record
