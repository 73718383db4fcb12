"""sentence-transformers' own ONNX and OpenVINO backends, measured as peers of e5ui's encoder.

Runs INSIDE the virtual environment that ``benchmarks/setup-st-peers`` makes (sentence-transformers
5.7 with transformers 4.x, optimum-intel, optimum-onnx, onnxruntime, openvino, nncf, datasets):
those pins clash with e5ui's environment, so this file imports nothing from e5ui or benchmarks
and e5ui's side starts it through ``benchmarks/st_peers_client.py``.

For one model folder (a Hugging Face + sentence-transformers layout) and a JSON list of texts
that already carry their "query: " / "passage: " prefix, each configuration is loaded, warmed up
untimed on the first 16 texts, then timed as the best of ``--repeats`` full
``model.encode(texts, normalize_embeddings=True)`` calls at sentence-transformers' defaults
(batch size 32, every thread). Configurations:

- ``st-torch``: ``backend="torch"``, float32; the sanity row to compare with e5ui's environment.
- ``st-onnx``: ``backend="onnx"`` at its default, float32, exported by ST at load.
- ``st-onnx-int8``: ST's ``export_dynamic_quantized_onnx_model`` with the preset that matches
  this CPU (``avx512_vnni``, else ``avx512``, else ``avx2``, else ``arm64``; dynamic int8,
  per-channel weights), loaded back with ``model_kwargs={"file_name": ...}``.
- ``st-openvino``: ``backend="openvino"`` at its default. The export keeps float32 weights, but
  OpenVINO's CPU plugin infers in bf16 on CPUs with bf16 units (AVX512-BF16 / AMX); the row's
  ``precision`` field says what the compiled model ran in (``INFERENCE_PRECISION_HINT``).
- ``st-openvino-f32``: the same with ``model_kwargs={"ov_config": {"INFERENCE_PRECISION_HINT":
  "f32"}}``, to tell bf16's cost in fidelity from OpenVINO's own.
- ``st-openvino-int8``: ST's ``export_static_quantized_openvino_model`` with its default
  ``OVQuantizationConfig`` (NNCF post-training int8 of weights and activations) but
  ``num_samples`` capped at the calibration texts. ST calibrates on GLUE/SST-2 from the Hub by
  default, which is unreachable offline; its ``dataset_name`` is handed to
  ``datasets.load_dataset``, which also takes a local folder, so the calibration texts are
  written as ``train.jsonl`` (one ``{"sentence": text}`` per line) into a temporary folder and
  passed as ``dataset_name=<folder>, dataset_config_name="default", dataset_split="train",
  column_name="sentence"``. ST's own preprocessing then applies (tokenised, padded to 384).
  The calibration texts are ``--calibration`` if given, else the measured texts themselves (the
  best case for fidelity).
- ``st-openvino-int8-weights``: optimum-intel's int8 weight-only compression at export
  (``model_kwargs={"load_in_8bit": True}``, i.e. ``OVWeightQuantizationConfig(bits=8)``;
  activations stay in the plugin's default precision).

Exports go to a temporary working copy of the model folder (small files copied, large weight
files symlinked; ST writes only into its ``onnx/`` and ``openvino/`` subfolders there), so the
model folder, which may be the shared bundled one, is never written; the script checks that.
Each configuration writes ``<out>/<name>.npy`` (float32) and appends one JSON line to
``<out>/results.jsonl``: name, ok, seconds, texts, load_s, export_s, exported_at_load,
precision, note, error. A configuration that fails is reported with its error, not dropped.

transformers 4.57 warns that the XLM-R tokenizer has "an incorrect regex pattern" (its Mistral
check misfires on local folders): a false alarm here, the token ids of benchmarks/texts.py's
texts match those of e5ui's environment one for one.

    .venv-stpeers/bin/python benchmarks/st_peers.py --model-dir DIR --texts texts.json \\
        --out OUT --configs st-torch,st-onnx --repeats 2
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before any Hugging Face import: everything here is local, and the Hub is unreachable anyway.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# optimum-intel loads the calibration set with cache_dir=<hub cache>, so datasets would leave an
# Arrow copy of it in ~/.cache/huggingface (and could reuse a stale one): a throwaway cache.
_HF_CACHE = tempfile.mkdtemp(prefix="st-peers-hf-cache-")
atexit.register(shutil.rmtree, _HF_CACHE, ignore_errors=True)
# huggingface_hub 0.x reads the old name for the constant optimum-intel uses.
for _var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE"):
    os.environ[_var] = _HF_CACHE

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

logger = logging.getLogger("st_peers")

CONFIGS = ("st-torch", "st-onnx", "st-onnx-int8", "st-openvino", "st-openvino-f32",
           "st-openvino-int8", "st-openvino-int8-weights")
WARMUP_TEXTS = 16
# Weight files at least this large are symlinked into the working copy instead of copied;
# nothing ST or optimum export writes them.
LINK_BYTES = 64 << 20


@dataclass
class PeerRow:
    """One configuration's outcome, as written to results.jsonl."""

    name: str
    ok: bool
    seconds: float | None = None
    texts: int = 0
    load_s: float | None = None
    export_s: float | None = None
    exported_at_load: bool = False
    precision: str = ""
    note: str = ""
    error: str = ""
    npy: str = ""


@dataclass
class Loaded:
    """A ready model plus what it took to get there."""

    model: object
    load_s: float
    export_s: float | None = None
    exported_at_load: bool = False
    note: str = ""
    precision: str = ""  # where the backend cannot report it (ONNX Runtime's int8)


def onnx_preset() -> str:
    """ST's dynamic-quantisation preset for this CPU, from /proc/cpuinfo's flags."""
    try:
        flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith(("flags", "Features"))), "").split()
    except OSError:
        flags = []
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    return "arm64"


def working_copy(model_dir: Path, dest: Path) -> Path:
    """A folder that reads like model_dir: small files copied, large ones symlinked."""
    for src in model_dir.rglob("*"):
        target = dest / src.relative_to(model_dir)
        if src.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif src.stat().st_size >= LINK_BYTES:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(src.resolve())
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def snapshot(folder: Path) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every file, to prove a folder was left alone."""
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*") if p.is_file())


def timed_load(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.perf_counter()
    model = fn()
    return model, time.perf_counter() - t


def load_config(name: str, work: Path, calibration: list[str]) -> Loaded:
    """Builds configuration `name` from the working copy `work` the way ST's docs show."""
    from sentence_transformers import SentenceTransformer

    def st(**kw) -> SentenceTransformer:
        return SentenceTransformer(str(work), device="cpu", local_files_only=True, **kw)

    if name == "st-torch":
        model, s = timed_load(lambda: st(backend="torch"))
        return Loaded(model, s)
    if name == "st-onnx":
        model, s = timed_load(lambda: st(backend="onnx"))
        return Loaded(model, s, exported_at_load=True)
    if name == "st-openvino":
        model, s = timed_load(lambda: st(backend="openvino"))
        return Loaded(model, s, exported_at_load=True)
    if name == "st-openvino-f32":
        model, s = timed_load(lambda: st(backend="openvino", model_kwargs={
            "ov_config": {"INFERENCE_PRECISION_HINT": "f32"}}))
        return Loaded(model, s, exported_at_load=True)
    if name == "st-openvino-int8-weights":
        model, s = timed_load(lambda: st(backend="openvino",
                                         model_kwargs={"load_in_8bit": True}))
        return Loaded(model, s, exported_at_load=True,
                      note="OVWeightQuantizationConfig(bits=8): int8 weights, activations "
                           "in the plugin's precision")
    if name == "st-onnx-int8":
        from sentence_transformers import export_dynamic_quantized_onnx_model

        preset = onnx_preset()
        t = time.perf_counter()
        fp32 = st(backend="onnx")
        export_dynamic_quantized_onnx_model(fp32, preset, str(work))
        export_s = time.perf_counter() - t
        del fp32
        gc.collect()
        file_name = f"onnx/model_qint8_{preset}.onnx"
        model, s = timed_load(lambda: st(backend="onnx", model_kwargs={"file_name": file_name}))
        return Loaded(model, s, export_s, note=f"ST preset {preset}",
                      precision="int8 dynamic (int8 per-channel weights, uint8 activations)")
    if name == "st-openvino-int8":
        from optimum.intel import OVQuantizationConfig
        from sentence_transformers import export_static_quantized_openvino_model

        calib_dir = work.parent / "calibration"
        calib_dir.mkdir(exist_ok=True)
        with open(calib_dir / "train.jsonl", "w", encoding="utf-8") as f:
            for text in calibration:
                f.write(json.dumps({"sentence": text}, ensure_ascii=False) + "\n")
        samples = min(300, len(calibration))  # 300: OVQuantizationConfig's default
        t = time.perf_counter()
        fp32 = st(backend="openvino")
        export_static_quantized_openvino_model(
            fp32, OVQuantizationConfig(num_samples=samples), str(work),
            dataset_name=str(calib_dir), dataset_config_name="default",
            dataset_split="train", column_name="sentence")
        export_s = time.perf_counter() - t
        del fp32
        gc.collect()
        file_name = "openvino/openvino_model_qint8_quantized.xml"
        model, s = timed_load(lambda: st(backend="openvino",
                                         model_kwargs={"file_name": file_name}))
        return Loaded(model, s, export_s,
                      note=f"NNCF calibrated on {samples} local texts; int8 ops, rest in "
                           "the plugin's precision")
    raise ValueError(f"Unknown configuration: {name}. Must be one of: {', '.join(CONFIGS)}")


def precision_of(model, loaded: Loaded) -> str:
    """What the backend computed in: OpenVINO's compiled inference precision, else the dtype."""
    if loaded.precision:
        return loaded.precision
    inner = model[0].auto_model
    request = getattr(inner, "request", None)
    if request is not None and hasattr(request, "get_property"):
        try:
            hint = request.get_property("INFERENCE_PRECISION_HINT")
        except Exception as exc:  # a plugin without the property
            return f"unknown ({exc})"
        return hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    return str(getattr(inner, "dtype", "")).replace("torch.", "")


def run_one(name: str, model_dir: Path, texts: list[str], calibration: list[str],
            repeats: int, out: Path) -> PeerRow:
    """Loads, warms up, times and saves one configuration; errors become the row's error."""
    row = PeerRow(name=name, ok=False, texts=len(texts))
    with tempfile.TemporaryDirectory(prefix=f"st-peers-{name}-") as tmp:
        try:
            work = working_copy(model_dir, Path(tmp) / "model")
            loaded = load_config(name, work, calibration)
            row.load_s, row.export_s = loaded.load_s, loaded.export_s
            row.exported_at_load, row.note = loaded.exported_at_load, loaded.note
            model = loaded.model
            model.encode(texts[:WARMUP_TEXTS], normalize_embeddings=True)
            row.precision = precision_of(model, loaded)
            best, emb = float("inf"), None
            for _ in range(repeats):
                t = time.perf_counter()
                emb = model.encode(texts, normalize_embeddings=True)
                best = min(best, time.perf_counter() - t)
            path = out / f"{name}.npy"
            np.save(path, np.asarray(emb, dtype=np.float32))
            row.seconds, row.npy, row.ok = best, str(path), True
        except Exception as exc:
            logger.error("%s failed:\n%s", name, traceback.format_exc())
            row.error = f"{type(exc).__name__}: {exc}"
        finally:
            gc.collect()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True, type=Path,
                        help="a Hugging Face + sentence-transformers model folder (never written)")
    parser.add_argument("--texts", required=True, type=Path,
                        help="JSON list of already-prefixed texts")
    parser.add_argument("--out", required=True, type=Path,
                        help="folder for <name>.npy and results.jsonl")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated, of: {', '.join(CONFIGS)}")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs; the best counts")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="JSON list of texts to calibrate st-openvino-int8 on "
                             "(default: --texts)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"Unknown configuration: {', '.join(unknown)}. "
                     f"Must be one of: {', '.join(CONFIGS)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not (args.model_dir / "modules.json").is_file():
        parser.error(f"{args.model_dir} is not a sentence-transformers model folder "
                     "(no modules.json)")
    texts = json.loads(args.texts.read_text(encoding="utf-8"))
    calibration = (json.loads(args.calibration.read_text(encoding="utf-8"))
                   if args.calibration else texts)
    args.out.mkdir(parents=True, exist_ok=True)

    before = snapshot(args.model_dir)
    for name in names:
        row = run_one(name, args.model_dir, texts, calibration, args.repeats, args.out)
        if snapshot(args.model_dir) != before:
            # Never expected: ST writes exports only into the working copy's subfolders.
            row.ok, row.error = False, f"the model folder {args.model_dir} changed during the run"
        line = json.dumps(asdict(row))
        with open(args.out / "results.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
