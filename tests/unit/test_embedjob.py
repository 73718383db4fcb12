"""Large embed jobs: chunked, written as they go, resumable after an interruption — with a local
and a remote encoder — and the same array as an uninterrupted job."""

from __future__ import annotations

import json

import numpy as np
import pytest

from e5ui import embedjob, textio
from tests.conftest import FakeEncoder
from tests.unit.test_remote import FakeServer, make


class Interrupted(Exception):
    """Stands for a kill after some chunks."""


def write_input(path, n: int):
    lines = [f"sentence number {i}" if i % 17 else "" for i in range(n)]  # blanks on the way
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def interrupt_after(chunks: int):
    seen = []

    def progress(done, total):
        seen.append(done)
        if len(seen) == chunks:
            raise Interrupted

    return progress


@pytest.fixture(params=["local", "remote"])
def encoder(request, tiny_encoder):
    if request.param == "local":
        yield tiny_encoder
    else:
        server = FakeServer()
        enc = make(server, cache=False)
        yield enc
        enc.close()
        server.stop()


def test_a_resumed_job_gives_the_uninterrupted_array(tmp_path, encoder):
    source = write_input(tmp_path / "in.txt", 230)
    whole = tmp_path / "whole.npy"
    done = embedjob.run(encoder, source, whole, chunk=40)
    texts = textio.read_texts(source).texts
    assert done.n == len(texts) == np.load(whole).shape[0]
    assert not embedjob.record_path(whole).exists()

    part = tmp_path / "part.npy"
    with pytest.raises(Interrupted):
        embedjob.run(encoder, source, part, chunk=40, progress=interrupt_after(2))
    record = json.loads(embedjob.record_path(part).read_text())
    assert record["done"] == 80 and record["n"] == len(texts)
    with pytest.raises(ValueError, match="unfinished job .*--resume"):
        embedjob.run(encoder, source, part, chunk=40)
    resumed = embedjob.run(encoder, source, part, chunk=999, resume=True)  # keeps its chunk
    assert resumed.resumed_from == 80
    np.testing.assert_array_equal(np.load(part), np.load(whole))
    # And the vectors are the encoder's own for those texts, in file order.
    np.testing.assert_allclose(np.load(whole), encoder.encode(texts, kind="query"), atol=1e-5)


def test_a_record_for_another_input_or_model_is_refused(tmp_path, tiny_encoder):
    source = write_input(tmp_path / "in.txt", 120)
    out = tmp_path / "out.npy"
    with pytest.raises(Interrupted):
        embedjob.run(tiny_encoder, source, out, chunk=30, progress=interrupt_after(1))
    other = FakeEncoder()
    with pytest.raises(ValueError, match="another model"):
        embedjob.run(other, source, out, chunk=30, resume=True)
    write_input(source, 121)
    with pytest.raises(ValueError, match="another input"):
        embedjob.run(tiny_encoder, source, out, chunk=30, resume=True)


def test_blank_lines_and_truncations_are_reported_once(tmp_path, tiny_encoder):
    source = tmp_path / "in.txt"
    source.write_text("a\n\nb\n" + "word " * 200 + "\n\n", encoding="utf-8")
    job = embedjob.run(tiny_encoder, source, tmp_path / "o.npy", chunk=1)
    assert job.n == 3
    assert sum("blank line" in n for n in job.notes) == 1
    assert any("truncated" in n and "line 4" in n for n in job.notes)
