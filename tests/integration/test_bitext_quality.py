"""Bitext matching quality on the bundled model.

Two sets: the parallel example set written for assets/ (72 sentences in 8 languages), and real
held-out parallel text that nobody on this project wrote or tuned on: the human translations of
Django's user interface messages (msgid -> msgstr in the compiled .mo catalogues that ship
with the django package).
"""

from __future__ import annotations

import random

import pytest

from benchmarks.texts import django_pairs
from e5ui.analysis import bitext
from tests.conftest import ASSETS

pytestmark = pytest.mark.integration
LANGS = ["de", "fr", "es", "ja", "zh", "ru", "ar"]


def shuffled(texts: list[str], seed: int) -> tuple[list[str], list[int]]:
    """Returns texts in a seeded random order and, for each original index, its new position."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    position = [0] * len(texts)
    for new, old in enumerate(order):
        position[old] = new
    return [texts[i] for i in order], position


def p_at_1(result: bitext.Matching, position: list[int]) -> float:
    return bitext.evaluate(result, list(enumerate(position))).p_at_1


@pytest.fixture(scope="module")
def english(bundled_encoder):
    lines = (ASSETS / "examples/parallel/en.txt").read_text(encoding="utf-8").splitlines()
    return lines, bundled_encoder.encode(lines)


@pytest.mark.parametrize("lang", LANGS)
def test_example_set_margin_one_to_one(bundled_encoder, english, lang):
    en_lines, en = english
    lines = (ASSETS / f"examples/parallel/{lang}.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(en_lines) >= 60
    targets, position = shuffled(lines, seed=LANGS.index(lang))
    tgt = bundled_encoder.encode(targets)
    best = p_at_1(bitext.match(en, tgt, method="margin", one_to_one=True), position)
    plain = p_at_1(bitext.match(en, tgt, method="cosine", one_to_one=False), position)
    assert best >= 0.95, (lang, best)
    assert best >= plain, (lang, best, plain)


@pytest.mark.parametrize("lang", ["de", "fr", "ja", "ru", "zh_Hans", "ar"])
def test_heldout_django_translations(bundled_encoder, lang):
    pytest.importorskip("django", reason="requirements-dev.txt installs django")
    pairs = django_pairs(lang)
    assert len(pairs) >= 100, f"only {len(pairs)} Django messages for {lang}"
    en = bundled_encoder.encode([e for e, _ in pairs])
    targets, position = shuffled([t for _, t in pairs], seed=7)
    tgt = bundled_encoder.encode(targets)
    best = p_at_1(bitext.match(en, tgt, method="margin", one_to_one=True), position)
    plain = p_at_1(bitext.match(en, tgt, method="cosine", one_to_one=False), position)
    print(f"{lang}: {len(pairs)} pairs, cosine NN P@1 {plain:.3f}, margin+1:1 P@1 {best:.3f}")
    assert best >= plain + 0.05, (lang, len(pairs), plain, best)
