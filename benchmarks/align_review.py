"""Is the doubtful-first order of an alignment's links informative?

    python benchmarks/align_review.py                    # the held-out documents (reported)
    python benchmarks/align_review.py --split dev        # the development documents (tuning)
    python benchmarks/align_review.py --json /tmp/align-review.json

The documents are those of the alignment quality test (tests/integration/test_align_quality.py):
120 English Django messages that the de, fr, ja, ru and zh_Hans catalogues all translate, and
their human translation perturbed reproducibly (10% of adjacent sentences joined, 5% dropped,
3% split at a comma), with the gold links that follow from it. Each is aligned with the bundled
model (float32), as the test does. A link is *wrong* when it is not a gold link (an omission of
a sentence that the gold links is wrong too).

Orders compared: the default doubtful-first order (``review.doubt_order``: lowest score first,
omissions valued ``DEFAULT_OMISSION_DOUBT``, merges lowered by ``DEFAULT_MERGE_DOUBT`` per
sentence beyond 1-1) and the plain lowest-score order with omissions last or first. For each
document and each order, the share of the wrong links found among the first 10% and
20% of rows (rounded up) is printed. A random order finds k/N of them on average in its first k
of N rows (10% / 20%, up to the rounding up); that expectation is printed beside them.

The development split (``--split dev``) holds other documents, for tuning the order's weights:
Django messages outside the held-out documents, in other languages (es, it, nl, pt_BR, ko, uk,
pl), perturbed alike; the aligner's own parameters were chosen on these too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu  # noqa: E402
from benchmarks.texts import django_pairs  # noqa: E402
from e5ui.analysis import alignment, review  # noqa: E402
from tests.integration.test_align_quality import DOC_SIZE, LANGS, perturb  # noqa: E402

DEV_LANGS = {"es": "es", "it": "it", "nl": "nl", "pt": "pt_BR", "ko": "ko", "uk": "uk",
             "pl": "pl"}
# Weight grid searched on the development split (omission doubt, merge doubt).
GRID_OMISSION = (-math.inf, -0.5, -0.2, -0.1, 0.0, 0.1, 0.2)
GRID_MERGE = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


def held_out() -> dict[str, tuple[list[tuple[str, str]], int]]:
    """The quality test's documents: per language, its messages and its perturbation seed."""
    tables = {lang: dict(django_pairs(code)) for lang, code in LANGS.items()}
    common = sorted(set.intersection(*(set(t) for t in tables.values())))[:DOC_SIZE]
    return {lang: ([(e, tables[lang][e]) for e in common], sorted(LANGS).index(lang))
            for lang in LANGS}


def development() -> dict[str, tuple[list[tuple[str, str]], int]]:
    """Development documents: per language, up to DOC_SIZE messages the held-out ones do not
    use, perturbed with two seeds (two documents a language: ~110-130 messages are left)."""
    tables = {lang: dict(django_pairs(code)) for lang, code in LANGS.items()}
    taken = set(sorted(set.intersection(*(set(t) for t in tables.values())))[:DOC_SIZE])
    out = {}
    for k, (lang, code) in enumerate(DEV_LANGS.items()):
        pairs = [(e, t) for e, t in django_pairs(code) if e not in taken][:DOC_SIZE]
        for seed in (100 + k, 200 + k):
            out[f"{lang}/{seed}"] = (pairs, seed)
    return out


def aligned(split: str) -> dict[str, dict]:
    """Per language: the links (source, target, score) the aligner found and the gold links."""
    from e5ui.encoding import Encoder

    encoder = Encoder("bundled", device="cpu", dtype="float32", cache=False)
    memo: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if new:
            memo.update(zip(new, encoder.encode(new)))
        return np.stack([memo[t] for t in texts])

    docs = held_out() if split == "held-out" else development()
    out = {}
    for lang, (pairs, seed) in docs.items():
        doc = perturb(pairs, lang.split("/")[0], seed=seed)
        result = alignment.align(doc.src, doc.tgt, embed)
        out[lang] = {
            "links": [[list(x.src), list(x.tgt), None if math.isnan(x.score) else x.score]
                      for x in result.links],
            "gold": [[list(s), list(t)] for s, t in doc.gold]}
    return out


def wrong_flags(links: list[alignment.Link], gold: list) -> np.ndarray:
    """Bool per link: not a gold link (omissions of several sentences count per sentence as
    ``alignment.evaluate`` counts them; the aligner's omissions hold one sentence each)."""
    gold_set = {(tuple(s), tuple(t)) for s, t in gold if s and t}
    gold_set |= {((i,), ()) for s, t in gold if not t for i in s}
    gold_set |= {((), (j,)) for s, t in gold if not s for j in t}
    return np.array([(x.src, x.tgt) not in gold_set for x in links])


def shares(order: np.ndarray, wrong: np.ndarray, fractions=(0.1, 0.2)) -> list[tuple[int, int]]:
    """(wrong links among the first ceil(f N) rows, rows) per fraction f."""
    n = order.size
    out = []
    for f in fractions:
        k = math.ceil(f * n)
        out.append((int(wrong[order[:k]].sum()), k))
    return out


def as_links(data: dict) -> list[alignment.Link]:
    return [alignment.Link(tuple(s), tuple(t), math.nan if sc is None else sc)
            for s, t, sc in data["links"]]


def measure(data: dict[str, dict], omission: float, merge: float) -> dict[str, dict]:
    """Per language and overall: wrong links, rows, and hits in the first 10% / 20%."""
    out: dict[str, dict] = {}
    total = {"wrong": 0, "rows": 0, "hit10": 0, "hit20": 0, "k10": 0, "k20": 0}
    for lang, d in data.items():
        links = as_links(d)
        wrong = wrong_flags(links, d["gold"])
        (h10, k10), (h20, k20) = shares(review.doubt_order(links, omission, merge), wrong)
        row = {"wrong": int(wrong.sum()), "rows": len(links), "hit10": h10, "hit20": h20,
               "k10": k10, "k20": k20}
        out[lang] = row
        for key in total:
            total[key] += row[key]
    out["all"] = total
    return out


def tune(data: dict[str, dict]) -> tuple[float, float, dict]:
    """The (omission, merge) of the grid that puts the most wrong links in the first 10% of
    rows over all documents (ties: the first 20%, then the smaller weights)."""
    best = None
    for om in GRID_OMISSION:
        for mg in GRID_MERGE:
            r = measure(data, om, mg)["all"]
            key = (r["hit10"], r["hit20"])
            if best is None or key > best[0]:
                best = (key, om, mg, r)
    return best[1], best[2], best[3]


def fmt(row: dict) -> str:
    w = max(row["wrong"], 1)
    exp10, exp20 = row["k10"] / row["rows"], row["k20"] / row["rows"]
    return (f"{row['hit10']}/{row['wrong']} = {row['hit10'] / w:.0%} in the first {row['k10']} "
            f"rows (random {exp10:.0%}); {row['hit20']}/{row['wrong']} = "
            f"{row['hit20'] / w:.0%} in the first {row['k20']} (random {exp20:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("held-out", "dev"), default="held-out")
    parser.add_argument("--cache", default=None,
                        help="JSON of the alignments: read if it exists, else written")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    print(f"CPU: {cpu()}")
    print(f"command: python benchmarks/align_review.py {' '.join(sys.argv[1:])}")
    t0 = time.perf_counter()
    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        data = json.loads(cache.read_text())
    else:
        data = aligned(args.split)
        if cache is not None:
            cache.write_text(json.dumps(data))
    print(f"aligned {len(data)} documents in {time.perf_counter() - t0:.0f} s ({args.split})")
    orders = {
        "doubtful first (default weights)": (review.DEFAULT_OMISSION_DOUBT,
                                             review.DEFAULT_MERGE_DOUBT),
        "lowest score first (omissions last)": (math.inf, 0.0),
        "lowest score first (omissions first)": (-math.inf, 0.0),
    }
    report: dict[str, dict] = {}
    for name, (om, mg) in orders.items():
        res = measure(data, om, mg)
        report[name] = {"omission": om, "merge": mg, "figures": res}
        print(f"\n{name} (omission {om:g}, merge {mg:g}):")
        for lang, row in res.items():
            print(f"  {lang:>4}: {fmt(row)}")
    om, mg, best = tune(data)
    print(f"\nbest weights of the grid on this split (the defaults were chosen so on --split "
          f"dev): omission {om:g}, merge {mg:g}: {fmt(best)}")
    report["grid best"] = {"omission": om, "merge": mg, "figures": best}
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": cpu(), "split": args.split,
                                               "orders": report}, indent=1, default=str))


if __name__ == "__main__":
    main()
