"""Model registry and prompt formats (multilingual-e5 model cards)."""

from __future__ import annotations

import pytest

from e5ui import models


def test_short_names_map_to_hub_ids():
    assert models.resolve("large").hub_id == "intfloat/multilingual-e5-large"
    assert models.resolve("small").dim == 384
    assert models.resolve("base").dim == 768
    assert models.resolve("intfloat/multilingual-e5-base").name == "base"
    assert models.resolve("large-instruct").prompt == "instruct"
    other = models.resolve("someone/e5-variant")
    assert other.hub_id == "someone/e5-variant" and other.dim == 0


def test_bad_names():
    with pytest.raises(ValueError, match="one of: small, base, large"):
        models.resolve("  ")


def test_e5_prefixes_once():
    assert models.format_input("x", "query", "e5") == "query: x"
    assert models.format_input("x", "passage", "e5") == "passage: x"
    assert models.format_input("query: x", "query", "e5") == "query: x"
    with pytest.raises(ValueError, match="query, passage, symmetric"):
        models.format_input("x", "doc", "e5")


def test_instruct_format():
    q = models.format_input("how to bake bread", "query", "instruct")
    assert q == f"Instruct: {models.DEFAULT_INSTRUCTION}\nQuery: how to bake bread"
    assert models.format_input("doc", "passage", "instruct") == "doc"
    assert models.format_input("x", "query", "instruct", "Find it") == "Instruct: Find it\nQuery: x"
    assert models.format_input(q, "query", "instruct") == q


def test_symmetric_prompt():
    # E5 models read "query: " on both sides of a symmetric task (model card FAQ) ...
    assert models.format_input("x", "symmetric", "e5") == "query: x"
    assert models.format_input("query: x", "symmetric", "e5") == "query: x"
    # ... instruct models the STS instruction, whatever retrieval instruction was configured.
    assert (models.format_input("x", "symmetric", "instruct", "Find it")
            == "Instruct: Retrieve semantically similar text\nQuery: x")


def test_the_two_bundled_models():
    bundled, enpt = models.resolve("bundled"), models.resolve("bundled-enpt")
    assert (bundled.hub_id, enpt.hub_id) == ("", "")
    assert bundled.dim == enpt.dim == 384 and enpt.prompt == "e5" and enpt.max_tokens == 512
    assert "portuguese" in enpt.size and "offline" in enpt.size
    assert models.resolve("  bundled-enpt ") is enpt
