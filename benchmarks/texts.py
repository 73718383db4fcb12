"""The benchmark corpus: >= 1,000 mixed-language texts of mixed length, from assets/."""

from __future__ import annotations

import gettext
import random
from pathlib import Path

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


def django_pairs(lang: str, min_words: int = 4) -> list[tuple[str, str]]:
    """English UI messages of Django (>= ``min_words`` words) and their human translations into
    ``lang``: held-out pairs nobody here wrote or tuned on, each translation once."""
    import django

    root = Path(django.__file__).parent
    pairs: dict[str, str] = {}
    for mo in sorted(root.glob(f"**/locale/{lang}/LC_MESSAGES/django.mo")):
        with mo.open("rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
        for msgid, msgstr in catalog.items():
            if not isinstance(msgid, str) or not msgid or "\x04" in msgid:
                continue
            if len(msgid.split()) >= min_words and msgstr.strip() and msgstr != msgid:
                pairs.setdefault(msgid.strip(), msgstr.strip())
    seen: set[str] = set()
    unique = []
    for en, tr in sorted(pairs.items()):
        if tr not in seen:
            seen.add(tr)
            unique.append((en, tr))
    return unique
