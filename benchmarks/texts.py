"""The benchmark corpus: >= 1,000 mixed-language texts of mixed length, from assets/."""

from __future__ import annotations

import csv
import random
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _tsv_texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def benchmark_texts(n: int = 1200, seed: int = 0) -> list[str]:
    """Returns n texts: single sentences in 24 languages, plus paragraphs of 3-12 sentences
    (about a fifth), shuffled so batches see realistic length variety."""
    ex = ASSETS / "examples"
    sentences = [
        line
        for p in sorted((ex / "parallel").glob("*.txt"))
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    sentences += _tsv_texts(ASSETS / "calibration" / "reference.tsv")
    sentences += _tsv_texts(ex / "one_meaning_ten_languages.tsv")
    sentences += _tsv_texts(ex / "retrieval" / "passages.tsv")
    rng = random.Random(seed)
    texts = list(dict.fromkeys(sentences))
    while len(texts) < n:
        k = rng.randint(3, 12)
        texts.append(" ".join(rng.sample(sentences, k)))
    rng.shuffle(texts)
    return texts[:n]
