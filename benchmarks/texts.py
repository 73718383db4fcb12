"""The benchmark corpus: >= 1,000 mixed-language texts of mixed length, from assets/."""

from __future__ import annotations

import random

from e5ui import textio
from e5ui.resources import ASSETS_DIR as ASSETS


def benchmark_texts(n: int = 1200, seed: int = 0) -> list[str]:
    """Returns n texts: single sentences in 24 languages, plus paragraphs of 3-12 sentences
    (about a fifth), shuffled so batches see realistic length variety."""
    ex = ASSETS / "examples"
    files = sorted((ex / "parallel").glob("*.txt")) + [
        ASSETS / "calibration" / "reference.tsv",
        ex / "one_meaning_ten_languages.tsv",
        ex / "retrieval" / "passages.tsv",
    ]
    sentences = [text for path in files for text in textio.read_texts(path).texts]
    rng = random.Random(seed)
    texts = list(dict.fromkeys(sentences))
    while len(texts) < n:
        k = rng.randint(3, 12)
        texts.append(" ".join(rng.sample(sentences, k)))
    rng.shuffle(texts)
    return texts[:n]
