"""Meaning vs language: what centering each language's embeddings does, measured.

    python benchmarks/centering.py                  # bundled model, float32 (~5 min on 2 cores)
    python benchmarks/centering.py --json out.json  # also write the rows

Sets, encoded by the bundled multilingual-e5-small ("query: " on every text, as maps do):
  map_parallel   assets/examples/map_parallel.tsv: 8 languages x 24 sentences (id column)
  parallel       assets/examples/parallel/*.txt: 8 languages x 72 sentences (line i = id i)
  django-7       held-out human translations nobody here wrote or tuned on: Django's UI
                 messages (>= 4 words) translated into all of de, fr, ja, ru, zh_Hans and ar,
                 with the English original: 7 languages x ~232 messages
  django-en-XX   English + one language, the pairs tests/integration/test_bitext_quality.py uses

Each set is measured as encoded ("off") and after ``center_languages`` ("on": each language's
mean embedding removed, rows re-normalised; min_texts 5):
  xling P@1      a text's nearest neighbour among the texts in other languages is its translation
  any P@1        a text's nearest neighbour among all other texts is a translation (a neighbour in
                 its own language is a miss): what a map or a heatmap shows
  pres UMAP/PCA  neighbour preservation (k=10) of a 2-D UMAP / PCA of the embeddings the map
                 draws: how faithfully the map shows its own input
  map id/lang    of each point's 5 nearest points on the 2-D UMAP map, the fraction that are
                 its translations / in its own language
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu  # noqa: E402
from benchmarks.texts import django_pairs  # noqa: E402
from e5ui import textio  # noqa: E402
from e5ui.analysis.centering import center_languages, cross_lingual_p_at_1  # noqa: E402
from e5ui.analysis.projection import project  # noqa: E402
from e5ui.resources import ASSETS_DIR as ASSETS  # noqa: E402

PARALLEL_LANGS = ["en", "de", "fr", "es", "ja", "zh", "ru", "ar"]
DJANGO_LANGS = ["de", "fr", "ja", "ru", "zh_Hans", "ar"]
MAP_K = 5


# -- data ---------------------------------------------------------------------------------------
def map_parallel() -> tuple[list[str], list[str], list[str]]:
    data = textio.read_texts(ASSETS / "examples" / "map_parallel.tsv")
    return list(data.texts), list(data.langs), list(data.ids)


def parallel() -> tuple[list[str], list[str], list[str]]:
    texts, langs, ids = [], [], []
    for lang in PARALLEL_LANGS:
        lines = (ASSETS / "examples" / "parallel" / f"{lang}.txt").read_text(
            encoding="utf-8").splitlines()
        texts += lines
        langs += [lang] * len(lines)
        ids += [f"s{i}" for i in range(len(lines))]
    return texts, langs, ids


def django_sets() -> dict[str, tuple[list[str], list[str], list[str]]]:
    per_lang = {lang: dict(django_pairs(lang)) for lang in DJANGO_LANGS}
    sets = {}
    common = sorted(set.intersection(*(set(p) for p in per_lang.values())))
    texts, langs, ids = list(common), ["en"] * len(common), [f"m{i}" for i in range(len(common))]
    for lang in DJANGO_LANGS:
        texts += [per_lang[lang][en] for en in common]
        langs += [lang] * len(common)
        ids += [f"m{i}" for i in range(len(common))]
    sets["django-7"] = (texts, langs, ids)
    for lang, pairs in per_lang.items():
        items = sorted(pairs.items())
        sets[f"django-en-{lang}"] = (
            [en for en, _ in items] + [tr for _, tr in items],
            ["en"] * len(items) + [lang] * len(items),
            [f"m{i}" for i in range(len(items))] * 2,
        )
    return sets


# -- measures -----------------------------------------------------------------------------------
def any_language_p_at_1(emb: np.ndarray, ids: list[str]) -> float:
    """Nearest neighbour among all other texts shares the id (ties: lower index)."""
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    nn = np.argmax(sim, axis=1)
    key = np.asarray(ids)
    return float((key[nn] == key).mean())


def map_neighbourhoods(coords: np.ndarray, langs: list[str], ids: list[str]) -> tuple[float,
                                                                                    float]:
    """Fractions of each point's MAP_K nearest map points with its id / its language."""
    sq = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(sq, np.inf)
    near = np.argsort(sq, axis=1, kind="stable")[:, :MAP_K]
    key, lang = np.asarray(ids), np.asarray(langs)
    return float((key[near] == key[:, None]).mean()), float((lang[near] == lang[:, None]).mean())


def measure(emb: np.ndarray, langs: list[str], ids: list[str], seed: int) -> dict:
    umap = project(emb, method="umap", seed=seed, preservation_k=10)
    pca = project(emb, method="pca", seed=seed, preservation_k=10)
    same_id, same_lang = map_neighbourhoods(umap.coords, langs, ids)
    return {
        "xling_p1": cross_lingual_p_at_1(emb, langs, ids).p_at_1,
        "any_p1": any_language_p_at_1(emb, ids),
        "pres_umap": umap.preservation,
        "pres_pca": pca.preservation,
        "map_same_id": same_id,
        "map_same_lang": same_lang,
        "umap_ran": umap.method,
    }


# -- report -------------------------------------------------------------------------------------
COLUMNS = [("xling_p1", "xling P@1"), ("any_p1", "any P@1"), ("pres_umap", "pres UMAP"),
           ("pres_pca", "pres PCA"), ("map_same_id", "map id"), ("map_same_lang", "map lang")]


def table(rows: list[dict]) -> str:
    head = f"{'set':<18} {'n':>5} {'langs':>5}  " + "  ".join(
        f"{label:>15}" for _, label in COLUMNS)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "  ".join(f"{r['off'][key]:.3f} -> {r['on'][key]:.3f}".rjust(15)
                          for key, _ in COLUMNS)
        lines.append(f"{r['set']:<18} {r['n']:>5} {r['langs']:>5}  {cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from e5ui.encoding import Encoder

    encoder = Encoder(args.model, dtype=args.dtype, cache=True)
    sets = {"map_parallel": map_parallel(), "parallel": parallel(), **django_sets()}
    rows = []
    started = time.perf_counter()
    for name, (texts, langs, ids) in sets.items():
        emb = encoder.encode(texts)
        centering = center_languages(emb, langs)
        row = {"set": name, "n": len(texts), "langs": len(set(langs)),
               "centered": centering.centered, "skipped": centering.skipped,
               "off": measure(emb, langs, ids, args.seed),
               "on": measure(centering.embeddings, langs, ids, args.seed)}
        rows.append(row)
        print(f"{name}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
              flush=True)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"cpu: {cpu()}")
    print(f"model: {encoder.model_id} ({encoder.dtype}); centering min_texts 5; "
          f"map: 2-D, seed {args.seed}, UMAP n_neighbors 15, map kNN k={MAP_K}")
    print("cells: centering off -> on\n")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
