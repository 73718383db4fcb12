"""The one-time work behind the OpenVINO backend and the fidelity report, in a child process.

``python -m e5ui.encoding.ovbuild`` loads a model in float32 with PyTorch and, as asked:

- converts it to an OpenVINO model at a precision (``--precision``, ``--out``): float32 and
  bfloat16 keep the weights as they are (bfloat16 is a runtime hint), ``int8-weights``
  compresses the weights to int8 with NNCF, ``int8`` also quantises activations with NNCF's
  post-training quantisation, sparing the layers that lose most (``INT8_KEEP``);
- encodes the fidelity sample (``--sample``, already formatted inputs) in float32, and in
  bfloat16 where the CPU has it, timing each, into ``--reference``;
- encodes the sample with the setting being measured (``--candidate backend:precision``,
  ``--token-budget``), timed, into ``--vectors``: its buffers then never add to the peak of
  the process that serves.

It runs apart because the float32 model, its trace and the converted graph need about three
times the model's size: in a child that memory goes back to the system when it ends, and the
process that encodes keeps only what it encodes with. It reports its steps on stdout as lines
``E5UI-STEP <text>`` and writes its files before a last ``E5UI-DONE`` line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

STEP = "E5UI-STEP "
DONE = "E5UI-DONE"
# The int8 setting keeps each layer's FFN output projection (encoder.layer.N.output.dense, not
# attention.output.dense) out of activation quantisation: its input comes after GELU, with a
# long tail that one int8 scale cannot hold; quantising it costs most of the error
# (benchmarks/RESULTS.md, "Which layers int8 may touch").
INT8_KEEP = (r".*layer\.\d+\.output\.dense.*",)
CALIBRATION_TEXTS = 300
CALIBRATION_BATCH = 8


def step(text: str) -> None:
    print(STEP + text, flush=True)


def encode_formatted(encoder, inputs: list[str]) -> np.ndarray:
    """Raw (unnormalised) float32 vectors of already formatted inputs, in order, through the
    encoder's batching (no prefix added, no cache)."""
    ids = encoder._tokenize(inputs)
    first = {s: i for i, s in reversed(list(enumerate(inputs)))}
    todo = list(dict(zip(inputs, ids)).items())
    vectors: dict[str, np.ndarray] = {}
    for part, rows in encoder._embed_batches(todo, first, "query"):
        vectors.update(zip(part, rows))
    return np.stack([vectors[s] for s in inputs]).astype(np.float32)


def timed_encode(encoder, inputs: list[str]) -> tuple[np.ndarray, float]:
    """(vectors, seconds) of one pass after an untimed warm-up on a few inputs."""
    encode_formatted(encoder, inputs[:16])
    start = time.perf_counter()
    out = encode_formatted(encoder, inputs)
    return out, time.perf_counter() - start


def calibration_inputs(encoder) -> list[str]:
    """Texts for int8 activation ranges: the bundled examples (not the fidelity sample, which
    is the calibration reference set), formatted as queries, a fixed selection."""
    from e5ui import resources, textio

    folder = resources.path("examples")
    texts: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".txt", ".tsv") and path.name != "README.md" and "gold" not in path.name:
            try:
                texts += textio.read_texts(path).texts
            except ValueError:
                continue
    texts = list(dict.fromkeys(t for t in texts if t.strip()))
    rng = np.random.default_rng(0)
    chosen = sorted(rng.choice(len(texts), size=min(CALIBRATION_TEXTS, len(texts)),
                               replace=False).tolist())
    return encoder.format([texts[i] for i in chosen], "query")


def _batches_for_calibration(encoder, inputs: list[str]) -> list[dict[str, np.ndarray]]:
    out = []
    for i in range(0, len(inputs), CALIBRATION_BATCH):
        enc = encoder._tokenizer(inputs[i:i + CALIBRATION_BATCH], padding=True, truncation=True,
                                 max_length=encoder.max_length, return_tensors="np")
        out.append({"input_ids": enc["input_ids"].astype(np.int64),
                    "attention_mask": enc["attention_mask"].astype(np.int64)})
    return out


def convert(encoder, precision: str, out: Path) -> dict:
    """Converts the encoder's float32 torch model to OpenVINO at ``precision`` into ``out``."""
    import openvino as ov
    import torch

    class Hidden(torch.nn.Module):
        """The model with plain tensors in and the last hidden states out."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    step("tracing the model for OpenVINO")
    # Two inputs of different lengths, so the traced graph handles padding.
    example = encoder._tokenizer(["query: a", "query: a longer example input"], padding=True,
                                 return_tensors="pt")
    shape = ov.PartialShape([-1, -1])
    with torch.inference_mode():
        model = ov.convert_model(
            Hidden(encoder._model),
            example_input={"input_ids": example["input_ids"],
                           "attention_mask": example["attention_mask"]},
            input=[("input_ids", shape, ov.Type.i64), ("attention_mask", shape, ov.Type.i64)])
    encoder._model = None  # the torch weights are no longer needed
    import gc

    gc.collect()
    info: dict = {"openvino": ov.__version__}
    if precision in ("int8-weights", "int8"):
        import nncf

        info["nncf"] = nncf.__version__
        if precision == "int8":
            step(f"quantizing activations to int8 on {CALIBRATION_TEXTS} example texts "
                 "(the FFN output layers stay in higher precision)")
            data = nncf.Dataset(_batches_for_calibration(encoder, calibration_inputs(encoder)))
            model = nncf.quantize(model, data, model_type=nncf.ModelType.TRANSFORMER,
                                  subset_size=CALIBRATION_TEXTS,
                                  ignored_scope=nncf.IgnoredScope(patterns=list(INT8_KEEP),
                                                                  validate=False))
        step("compressing the weights to int8")
        model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    step("saving the OpenVINO model")
    out.mkdir(parents=True, exist_ok=True)
    # float32 keeps float32 weights; the bfloat16 setting runs in bf16 anyway, so its weights
    # are stored as float16 (half the disk and the memory, finer than bf16).
    ov.save_model(model, str(out / "model.xml"), compress_to_fp16=precision == "bfloat16")
    return info


def reference(encoder_for, sample: list[str], bf16: bool) -> dict[str, np.ndarray]:
    """The sample's float32 vectors and timing, and bfloat16's where the CPU has it."""
    step(f"encoding the fidelity sample ({len(sample)} texts) in float32")
    enc = encoder_for("float32")
    vec, seconds = timed_encode(enc, sample)
    result = {"float32": vec, "float32_seconds": np.float64(seconds)}
    if bf16:
        enc = None
        step("encoding the fidelity sample in bfloat16 (torch)")
        enc = encoder_for("bfloat16")
        vec, seconds = timed_encode(enc, sample)
        result.update({"bfloat16": vec, "bfloat16_seconds": np.float64(seconds)})
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e5ui.encoding.ovbuild")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--max-length", type=int, required=True)
    parser.add_argument("--precision", default=None)
    parser.add_argument("--out", default=None, help="folder for the OpenVINO model")
    parser.add_argument("--sample", default=None, help="JSON list of formatted inputs")
    parser.add_argument("--reference", default=None, help=".npz for the sample's vectors")
    parser.add_argument("--bf16", action="store_true", help="also encode the sample in bf16")
    parser.add_argument("--candidate", default=None, metavar="BACKEND:PRECISION",
                        help="encode the sample with this setting instead (fidelity)")
    parser.add_argument("--token-budget", type=int, default=None)
    parser.add_argument("--vectors", default=None, help=".npz for the candidate's vectors")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from e5ui.encoding.local import Encoder

    def encoder_for(dtype: str):
        # No fidelity report here: this process makes the reference the report needs.
        return Encoder(args.model_dir, device="cpu", dtype=dtype, cache=False, fallback=False,
                       max_length=args.max_length, backend="torch", report_fidelity=False)

    sample = json.loads(Path(args.sample).read_text(encoding="utf-8")) if args.sample else []
    if args.candidate:
        backend, _, precision = args.candidate.partition(":")
        step(f"encoding the fidelity sample with {backend} {precision}")
        enc = Encoder(args.model_dir, device="cpu", dtype=precision, cache=False, fallback=False,
                      max_length=args.max_length, backend=backend, report_fidelity=False,
                      token_budget=args.token_budget)
        vec, seconds = timed_encode(enc, sample)
        np.savez(args.vectors, vectors=vec, seconds=np.float64(seconds))
    if args.reference:
        vectors = reference(encoder_for, sample, args.bf16)
        np.savez(args.reference, **vectors)
    if args.precision:
        step("loading the model in float32")
        info = convert(encoder_for("float32"), args.precision, Path(args.out))
        (Path(args.out) / "child.json").write_text(json.dumps(info))
    print(DONE, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
