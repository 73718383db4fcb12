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


def _as_nobody(job) -> tuple[bool, str]:
    """Runs ``job()`` in a forked child that, when we are root, first drops to user nobody (root
    writes anywhere, so a read-only folder means nothing to it); returns (passed, message)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            job()
            message = b"ok"
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            message = f"{type(exc).__name__}: {exc}".encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message == "ok", message


@pytest.fixture
def open_tmp():
    """A folder user nobody can reach (pytest's own tmp_path sits under a 0700 folder)."""
    import shutil
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp(prefix="e5ui-test-"))
    path.chmod(0o755)
    yield path
    for sub in path.rglob("*"):
        sub.chmod(0o755 if sub.is_dir() else 0o644)
    shutil.rmtree(path)


def test_unwritable_directory_degrades(open_tmp):
    locked = open_tmp / "locked"
    locked.mkdir()
    locked.chmod(0o555)

    def job():
        with pytest.warns(CacheWarning):
            cache = EmbeddingCache(directory=locked / "sub")
        assert cache.stats().disk is None
        cache.put_many({"a": vec(1)})  # memory still works
        np.testing.assert_array_equal(cache.get_many(["a"])["a"], vec(1))

    passed, message = _as_nobody(job)
    assert passed, message


def test_read_only_store_degrades_with_one_warning(open_tmp):
    store = open_tmp / "store"
    EmbeddingCache(directory=store).put_many({"a": vec(1)})
    for path in store.iterdir():
        path.chmod(0o444)
    store.chmod(0o555)

    def job():
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cache = EmbeddingCache(directory=store)
            cache.get_many(["a"])
            cache.put_many({"b": vec(2)})
            cache.put_many({"c": vec(3)})
            got = cache.get_many(["b", "c"])
        np.testing.assert_array_equal(got["b"], vec(2))  # memory keeps working
        np.testing.assert_array_equal(got["c"], vec(3))
        assert [issubclass(w.category, CacheWarning) for w in caught] == [True]
        assert cache.stats().disk is None

    passed, message = _as_nobody(job)
    assert passed, message


def test_cache_under_eight_threads(tmp_path):
    import threading

    cache = EmbeddingCache(max_bytes=64 * vec(0).nbytes, directory=tmp_path)
    errors: list[str] = []
    lookups = [0]
    lock = threading.Lock()

    def work(worker: int) -> None:
        for round_ in range(40):
            keys = [f"k{(worker * 7 + round_ + j) % 96}" for j in range(6)]
            cache.put_many({k: vec(int(k[1:])) for k in keys[:3]})
            got = cache.get_many(keys)
            with lock:
                lookups[0] += len(keys)
            for key, value in got.items():
                if not np.array_equal(value, vec(int(key[1:]))):
                    errors.append(f"{key} came back wrong")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    stats = cache.stats()
    assert stats.bytes <= stats.max_bytes and stats.entries <= 64
    assert stats.bytes == stats.entries * vec(0).nbytes
    assert stats.hits + stats.misses == lookups[0]
    # Everything written went to disk: a fresh cache finds exactly those keys there.
    written = {f"k{(w * 7 + r + j) % 96}" for w in range(8) for r in range(40) for j in range(3)}
    fresh = EmbeddingCache(directory=tmp_path)
    assert set(fresh.get_many([f"k{i}" for i in range(96)])) == written


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
