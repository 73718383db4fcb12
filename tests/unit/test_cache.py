"""The embedding cache: byte-bounded LRU, disk persistence, and graceful degradation."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pytest

from e5ui.cache import CacheWarning, EmbeddingCache, cache_key


def vec(seed: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def test_key_changes_with_every_field():
    base = cache_key("m", "r", "float32", 512, "query: x")
    variants = [
        cache_key("m2", "r", "float32", 512, "query: x"),
        cache_key("m", "r2", "float32", 512, "query: x"),
        cache_key("m", "r", "bfloat16", 512, "query: x"),
        cache_key("m", "r", "float32", 256, "query: x"),
        cache_key("m", "r", "float32", 512, "passage: x"),
    ]
    assert len({base, *variants}) == 6
    assert base == cache_key("m", "r", "float32", 512, "query: x")


def test_lru_is_bounded_in_bytes():
    cache = EmbeddingCache(max_bytes=3 * 32)  # room for three 8-float vectors
    for i in range(5):
        cache.put_many({f"k{i}": vec(i)})
    got = cache.get_many([f"k{i}" for i in range(5)])
    assert sorted(got) == ["k2", "k3", "k4"]
    assert cache.stats().bytes <= 96
    # A hit refreshes recency: k2 survives the next insertion, k3 does not.
    cache.get_many(["k2"])
    cache.put_many({"k5": vec(5)})
    assert sorted(cache.get_many(["k2", "k3", "k4", "k5"])) == ["k2", "k4", "k5"]


def test_hits_and_misses_are_counted():
    cache = EmbeddingCache()
    cache.put_many({"a": vec(1)})
    cache.get_many(["a", "b", "a"])
    s = cache.stats()
    assert (s.hits, s.misses) == (2, 1)


def test_returned_vectors_are_copies():
    cache = EmbeddingCache()
    cache.put_many({"a": vec(1)})
    got = cache.get_many(["a"])["a"]
    got[:] = 0
    np.testing.assert_array_equal(cache.get_many(["a"])["a"], vec(1))


def test_disk_store_survives_a_restart(tmp_path):
    EmbeddingCache(directory=tmp_path).put_many({"a": vec(1), "b": vec(2)})
    fresh = EmbeddingCache(directory=tmp_path)
    got = fresh.get_many(["a", "b", "c"])
    np.testing.assert_array_equal(got["a"], vec(1))
    np.testing.assert_array_equal(got["b"], vec(2))
    assert "c" not in got


def test_corrupt_store_degrades_to_no_disk_cache(tmp_path):
    (tmp_path / "embeddings.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.warns(CacheWarning, match="disabled"):
        cache = EmbeddingCache(directory=tmp_path)
    assert cache.stats().disk is None
    cache.put_many({"a": vec(1)})  # memory still works
    np.testing.assert_array_equal(cache.get_many(["a"])["a"], vec(1))


def test_damaged_row_is_a_miss_not_a_wrong_vector(tmp_path):
    EmbeddingCache(directory=tmp_path).put_many({"a": vec(1), "b": vec(2)})
    db = sqlite3.connect(tmp_path / "embeddings.sqlite")
    db.execute("UPDATE vectors SET vec = ? WHERE key = 'a'", (b"\x00\x01\x02",))
    db.commit()
    db.close()
    got = EmbeddingCache(directory=tmp_path).get_many(["a", "b"])
    assert "a" not in got
    np.testing.assert_array_equal(got["b"], vec(2))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_degrades(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.warns(CacheWarning):
        cache = EmbeddingCache(directory=locked / "sub")
    assert cache.stats().disk is None


def test_unwritable_path_degrades(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(CacheWarning):
        cache = EmbeddingCache(directory=blocker)
    assert cache.stats().disk is None


def test_encoder_with_corrupt_store_still_encodes(tiny_model_dir, tmp_path):
    from e5ui.encoder import Encoder

    (tmp_path / "embeddings.sqlite").write_bytes(b"\xff" * 4096)
    with pytest.warns(CacheWarning):
        enc = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
    ref = Encoder(str(tiny_model_dir), dtype="float32", cache=False)
    np.testing.assert_array_equal(enc.encode(["a text"]), ref.encode(["a text"]))


def test_encoder_disk_cache_avoids_recomputation(tiny_model_dir, tmp_path):
    from e5ui.encoder import Encoder

    first = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
    a = first.encode(["one", "two"])
    second = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
    b = second.encode(["one", "two"])
    assert second.forward_calls == 0
    np.testing.assert_array_equal(a, b)
