"""Language detection: py3langid's bundled model, overridden by a lang column."""

from __future__ import annotations

import pytest

from e5ui import langid


def test_detects_scripts_and_languages():
    texts = ["Der Zug hat heute wieder Verspätung.", "Le train est encore en retard.",
             "電車はまた遅れています。", "Поезд снова опаздывает.", "القطار متأخر مرة أخرى."]
    assert langid.detect(texts) == ["de", "fr", "ja", "ru", "ar"]


def test_given_codes_win_and_are_normalised():
    assert langid.detect(["Hello there my friend", "Bonjour"], ["de-CH", ""]) == ["de", "fr"]
    assert langid.normalise_code("zh_Hans") == "zh"


def test_texts_without_letters():
    assert langid.detect(["12345", "  ", "!!"]) == ["und", "und", "und"]


def test_length_mismatch():
    with pytest.raises(ValueError, match="2 language codes for 1 texts"):
        langid.detect(["a"], ["en", "de"])
