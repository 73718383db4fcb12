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
    from e5ui.encoding import Encoder

    (tmp_path / "embeddings.sqlite").write_bytes(b"\xff" * 4096)
    with pytest.warns(CacheWarning):
        enc = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
    ref = Encoder(str(tiny_model_dir), dtype="float32", cache=False)
    np.testing.assert_array_equal(enc.encode(["a text"]), ref.encode(["a text"]))


def test_encoder_disk_cache_avoids_recomputation(tiny_model_dir, tmp_path):
    from e5ui.encoding import Encoder

    first = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
    a = first.encode(["one", "two"])
    second = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
    b = second.encode(["one", "two"])
    assert second.forward_calls == 0
    np.testing.assert_array_equal(a, b)


# -- faults of the disk store, its cap and its closing -----------------------------------------
@pytest.fixture
def full_disk(monkeypatch):
    """Every SQLite connection may grow its file by two pages at most: SQLite's own "database or
    disk is full" (SQLITE_FULL), as on a full file system."""
    real = sqlite3.connect

    def connect(*args, **kwargs):
        db = real(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 2}")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)


def _cache_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]


def test_full_disk_degrades_with_one_warning_across_requests(tiny_model_dir, tmp_path,
                                                             full_disk, caplog):
    import logging
    import warnings

    from e5ui.encoding import Encoder

    ref = Encoder(str(tiny_model_dir), dtype="float32", cache=False)
    with warnings.catch_warnings(record=True) as caught, \
            caplog.at_level(logging.WARNING, logger="e5ui.cache"):
        warnings.simplefilter("always")
        enc = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
        # A second cache on the same store (another encoder in the process) stays quiet too.
        other = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
        for i in range(5):  # five requests, each with new texts to store
            texts = [f"request {i} text {j} " * (j + 1) for j in range(40)]
            np.testing.assert_allclose(enc.encode(texts), ref.encode(texts), atol=1e-6)
            np.testing.assert_allclose(other.encode(texts[::-1]), ref.encode(texts[::-1]),
                                       atol=1e-6)
    messages = _cache_warnings(caught)
    assert len(messages) == 1, messages
    assert "full disk" in messages[0] and str(tmp_path / "embeddings.sqlite") in messages[0]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert enc.describe()["cache"]["disk"] is None
    # The memory cache still answers.
    calls = enc.forward_calls
    enc.encode(["request 4 text 0 "])
    assert enc.forward_calls == calls


def test_app_with_a_full_disk_store_warns_once(tiny_model_dir, tmp_path, full_disk):
    import warnings

    from e5ui.encoding import Encoder
    from e5ui.holder import ModelHolder, Settings

    def factory(model, settings, cache, progress=None):
        return Encoder(model, dtype="float32", cache=cache)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        holder = ModelHolder(Settings(model=str(tiny_model_dir), cache_dir=str(tmp_path)),
                             factory=factory)
        for i in range(5):  # five requests through the app's model
            enc = holder.wait(timeout=60)
            assert enc.encode([f"app request {i} " * k for k in range(1, 30)]).shape == (29, 32)
        holder.start(str(tiny_model_dir))  # a model switch keeps the same cache
        for i in range(3):
            holder.wait(timeout=60).encode([f"after the switch {i} " * k for k in range(1, 30)])
    assert len(_cache_warnings(caught)) == 1, _cache_warnings(caught)


def test_corrupt_store_warns_once_over_many_requests(tiny_model_dir, tmp_path):
    import warnings

    from e5ui.encoding import Encoder

    (tmp_path / "embeddings.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 8000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):  # e.g. one CLI call per file, in one process
            enc = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path)
            enc.encode([f"text {i}", "shared"])
    messages = _cache_warnings(caught)
    assert len(messages) == 1 and "damaged" in messages[0] and "delete" in messages[0], messages


def _traced(monkeypatch) -> list[str]:
    """Records every SQL statement run by connections opened from now on."""
    statements: list[str] = []
    real = sqlite3.connect

    def connect(*args, **kwargs):
        db = real(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)
    return statements


def _file_bytes(folder) -> int:
    return sum(p.stat().st_size for p in folder.glob("embeddings.sqlite*"))


def test_disk_store_is_capped_and_evicts_the_oldest(tmp_path, monkeypatch):
    cap = 256 * 1024
    statements = _traced(monkeypatch)
    cache = EmbeddingCache(max_bytes=0, directory=tmp_path, max_disk_bytes=cap)
    peak = 0
    for batch in range(100):  # 2,000 vectors of 1.5 KB: ~3 MB written under a 256 KB cap
        cache.put_many({f"k{batch * 20 + j}": vec(batch * 20 + j, 384) for j in range(20)})
        peak = max(peak, _file_bytes(tmp_path))
    assert cache.evicted > 1500
    # The file grows to the cap plus one write at most (eviction runs after each write); the
    # write-ahead log, folded in often under a small cap, adds a fraction of it.
    batch_bytes = 20 * 384 * 4
    assert peak <= 1.5 * (cap + 2 * batch_bytes), peak
    cache.close()
    assert _file_bytes(tmp_path) <= cap + 2 * batch_bytes, _file_bytes(tmp_path)
    # Cheap: no statement counts or sums the table (nothing scans it on a put).
    scans = [s for s in statements if "count(" in s.lower() or "sum(" in s.lower()]
    assert not scans, scans
    fresh = EmbeddingCache(directory=tmp_path)
    newest = [f"k{i}" for i in range(1950, 2000)]
    oldest = [f"k{i}" for i in range(0, 500)]
    got = fresh.get_many(newest + oldest)
    assert set(newest) <= set(got) and not set(oldest) & set(got)
    np.testing.assert_array_equal(got["k1999"], vec(1999, 384))


def test_a_store_over_a_new_cap_shrinks_when_opened(tmp_path):
    big = EmbeddingCache(directory=tmp_path)
    for batch in range(20):
        big.put_many({f"k{batch * 50 + j}": vec(j, 384) for j in range(50)})
    big.close()
    small = EmbeddingCache(directory=tmp_path, max_disk_bytes=200 * 1024)
    assert small.evicted > 0
    assert small.get_many(["k999"]) and not small.get_many(["k0"])


def test_close_keeps_memory_answers_and_folds_the_log(tmp_path):
    import warnings

    cache = EmbeddingCache(directory=tmp_path)
    cache.put_many({"a": vec(1)})
    assert (tmp_path / "embeddings.sqlite-wal").exists()
    cache.close()
    assert not (tmp_path / "embeddings.sqlite-wal").exists()  # checkpointed into the file
    assert cache.stats().disk is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(cache.get_many(["a"])["a"], vec(1))
        cache.put_many({"b": vec(2)})  # memory only now, and no warning about it
        np.testing.assert_array_equal(cache.get_many(["b"])["b"], vec(2))
        cache.close()  # twice is harmless
    got = EmbeddingCache(directory=tmp_path).get_many(["a", "b"])
    assert list(got) == ["a"]


def test_encoder_close_closes_only_its_own_cache(tiny_model_dir, tmp_path):
    from e5ui.encoding import Encoder

    own = Encoder(str(tiny_model_dir), dtype="float32", cache_dir=tmp_path / "own")
    shared = EmbeddingCache(directory=tmp_path / "shared")
    guest = Encoder(str(tiny_model_dir), dtype="float32", cache=shared)
    own.close()
    guest.close()
    assert own.describe()["cache"]["disk"] is None
    assert shared.stats().disk is not None  # belongs to whoever made it
    assert own.encode("still works").shape == (32,)


def test_open_stores_are_closed_at_exit(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    # The cache is still referenced at exit (by a daemon thread, as the app's ModelHolder
    # holds it), so only an exit hook closes it.
    script = (
        "import threading, time\n"
        "import numpy as np\n"
        "from e5ui.cache import EmbeddingCache\n"
        f"cache = EmbeddingCache(directory={str(tmp_path)!r})\n"
        "cache.put_many({'a': np.ones(8, np.float32)})\n"
        "threading.Thread(target=lambda held: time.sleep(60), args=(cache,), daemon=True).start()\n"
        "del cache\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "embeddings.sqlite-wal").exists()
    got = EmbeddingCache(directory=tmp_path).get_many(["a"])
    np.testing.assert_array_equal(got["a"], np.ones(8, np.float32))
