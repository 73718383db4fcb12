"""Large embed jobs: chunked, written as they go, resumable after an interruption — with a local
and a remote encoder — and the same array as an uninterrupted job."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from e5ui import embedjob, textio
from e5ui.__main__ import main
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


# -- a resumed job verifies what is on disk ---------------------------------------------------
# Each test kills a job, damages what it left, resumes, and compares with the array of a job
# that was never interrupted (an independent reference): the damage is either refused with a
# message that names it, or encoded again so that the arrays are equal — never kept.
CHUNK = 40
TEXTS = 216  # write_input(230): every 17th line is blank


def killed(tmp_path, encoder, chunks: int, n: int = 230):
    """The input, the uninterrupted array, and the output of a job killed after ``chunks``."""
    source = write_input(tmp_path / "in.txt", n)
    whole = tmp_path / "whole.npy"
    embedjob.run(encoder, source, whole, chunk=CHUNK)
    part = tmp_path / "part.npy"
    with pytest.raises(Interrupted):
        embedjob.run(encoder, source, part, chunk=CHUNK, progress=interrupt_after(chunks))
    return source, np.load(whole), part


def edit_record(out, **changes):
    path = embedjob.record_path(out)
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))
    return record


def damage_rows(out, rows, value):
    array = np.load(out, mmap_mode="r+")
    array[rows] = value
    array.flush()
    del array


def data_offset(out) -> int:
    """Where the rows start: the file's size less the rows' bytes."""
    return out.stat().st_size - TEXTS * FakeEncoder().dim * 4


def test_a_truncated_npy_keeps_its_whole_chunks_and_encodes_the_rest(tmp_path):
    encoder = FakeEncoder()
    source, whole, part = killed(tmp_path, encoder, chunks=3)
    cut = data_offset(part) + 50 * encoder.dim * 4 + 7  # inside row 50, in the second chunk
    with part.open("r+b") as f:
        f.truncate(cut)
    job = embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    np.testing.assert_array_equal(np.load(part), whole)
    assert (job.resumed_from, job.verified_chunks) == (40, 1)
    assert any("cut short" in note for note in job.notes)
    assert any("80 row(s) in 2 chunk(s)" in note and "row 50 has length" in note
               for note in job.notes)
    assert not embedjob.record_path(part).exists()


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_an_empty_or_missing_npy_is_written_again(tmp_path, how):
    encoder = FakeEncoder()
    source, whole, part = killed(tmp_path, encoder, chunks=2)
    if how == "empty":
        part.write_bytes(b"")
    else:
        part.unlink()
    job = embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    np.testing.assert_array_equal(np.load(part), whole)
    assert job.resumed_from == 0
    assert any(f"was {how}" in note for note in job.notes)


def test_rows_that_never_reached_the_disk_are_encoded_again(tmp_path):
    # The record says 160 rows are done, but the last two chunks were lost (a crash between
    # the record's rename reaching the disk and the rows' pages doing so).
    encoder = FakeEncoder()
    source, whole, part = killed(tmp_path, encoder, chunks=4)
    damage_rows(part, slice(80, 160), 0.0)
    job = embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    np.testing.assert_array_equal(np.load(part), whole)
    assert (job.resumed_from, job.verified_chunks) == (80, 2)
    assert any("row 80 is all zeros" in note for note in job.notes)


@pytest.mark.parametrize("value, problem", [
    (0.0, "row 45 is all zeros"),
    (np.nan, "row 45 holds NaN"),
    (None, "checksum mismatch"),  # the row negated: finite, length 1, only the checksum differs
])
def test_a_damaged_row_in_a_done_chunk_is_encoded_again(tmp_path, value, problem):
    encoder = FakeEncoder()
    source, whole, part = killed(tmp_path, encoder, chunks=3)
    damage_rows(part, 45, -whole[45] if value is None else value)
    job = embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    np.testing.assert_array_equal(np.load(part), whole)
    assert job.resumed_from == 40
    assert any(problem in note and "chunk 2 (rows 40–79)" in note for note in job.notes)


def test_a_done_count_beyond_the_recorded_chunks_is_refused(tmp_path):
    encoder = FakeEncoder()
    source, _, part = killed(tmp_path, encoder, chunks=2)
    before = part.read_bytes()
    edit_record(part, done=160)
    with pytest.raises(ValueError, match=r"progress\.json is not valid: 'rows_sha256' lists 2 "
                                         r"chunk\(s\), but 'done' \(160\) means 4"):
        embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    assert part.read_bytes() == before  # nothing written over


@pytest.mark.parametrize("field, value", [
    (field, value)
    for field in ("done", "chunk")
    for value in ("abc", 1.5, -1, None, [40], True)
] + [("chunk", 0), ("done", 999), ("done", 50), ("n", "216")])
def test_a_malformed_record_is_refused_by_name(tmp_path, field, value):
    encoder = FakeEncoder()
    source, _, part = killed(tmp_path, encoder, chunks=2)
    before = part.read_bytes()
    edit_record(part, **{field: value})
    name = re.escape(str(embedjob.record_path(part)))
    with pytest.raises(ValueError, match=rf"^The progress record {name} is not valid: "
                                         rf"'{field}' .*; delete .* to start the job again$"):
        embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    assert part.read_bytes() == before


def test_a_record_from_before_the_checksums_is_encoded_again(tmp_path):
    encoder = FakeEncoder()
    source, whole, part = killed(tmp_path, encoder, chunks=3)
    record = json.loads(embedjob.record_path(part).read_text())
    record = {key: value for key, value in record.items() if not key.endswith("sha256")}
    embedjob.record_path(part).write_text(json.dumps({**record, "version": 1}))
    damage_rows(part, 7, 0.0)  # what a version-1 record could not catch
    job = embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    np.testing.assert_array_equal(np.load(part), whole)
    assert job.resumed_from == 0
    assert any("older e5ui" in note and "could not be verified" in note for note in job.notes)


def test_a_record_from_a_newer_version_is_refused(tmp_path):
    encoder = FakeEncoder()
    source, _, part = killed(tmp_path, encoder, chunks=1)
    edit_record(part, version=embedjob.RECORD_VERSION + 1)
    with pytest.raises(ValueError, match="'version' is 3, not one this e5ui knows"):
        embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)


def test_a_text_changed_in_a_done_chunk_is_encoded_again(tmp_path):
    encoder = FakeEncoder()
    source, _, part = killed(tmp_path, encoder, chunks=3)
    # Line 53 is text 49 (lines 0, 17, 34 and 51 are blank): the second chunk.
    source.write_text(source.read_text().replace("sentence number 53\n", "changed 53\n"))
    raw = source.read_bytes()
    # A record that does not see the change (copied along with an edited input, or a reader
    # that reads the same file differently): the per-chunk texts still catch it.
    edit_record(part, input={"name": source.name, "size": len(raw),
                             "mtime_ns": source.stat().st_mtime_ns,
                             "sha256": hashlib.sha256(raw).hexdigest()})
    job = embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    reference = tmp_path / "reference.npy"
    embedjob.run(encoder, source, reference, chunk=CHUNK)
    np.testing.assert_array_equal(np.load(part), np.load(reference))
    assert job.resumed_from == 40
    assert any("chunk 2 (rows 40–79): its texts differ" in note for note in job.notes)


@pytest.mark.parametrize("how", ["float64", "wider", "fortran", "longer", "garbage"])
def test_a_file_that_is_not_the_records_array_is_refused_and_left_alone(tmp_path, how):
    encoder = FakeEncoder()
    source, whole, part = killed(tmp_path, encoder, chunks=2)
    if how == "float64":
        np.save(part, whole.astype(np.float64))
    elif how == "wider":
        np.save(part, np.ones((TEXTS, encoder.dim + 1), np.float32))
    elif how == "fortran":
        np.save(part, np.asfortranarray(whole))
    elif how == "longer":
        part.write_bytes(part.read_bytes() + b"\0" * 64)
    else:
        part.write_bytes(b"these are not the rows you are looking for" * 100)
    before = part.read_bytes()
    with pytest.raises(ValueError, match=rf"^{re.escape(str(part))} is not the array its "
                                         "progress record describes: .*; delete "):
        embedjob.run(encoder, source, part, chunk=CHUNK, resume=True)
    assert part.read_bytes() == before


class BadRowEncoder(FakeEncoder):
    """Returns ``value`` as the vector of one text."""

    def __init__(self, text: str, value: float):
        super().__init__()
        self.text, self.value = text, value

    def _vec(self, text):
        vec = super()._vec(text)
        return np.full_like(vec, self.value) if text.endswith(f": {self.text}") else vec


@pytest.mark.parametrize("value, problem", [(0.0, "is all zeros"),
                                            (np.inf, "holds NaN or infinite values")])
def test_an_encoder_returning_an_unusable_row_is_refused(tmp_path, value, problem):
    source = write_input(tmp_path / "in.txt", 230)
    out = tmp_path / "out.npy"
    encoder = BadRowEncoder("sentence number 100", value)  # line 100 is in the third chunk
    with pytest.raises(ValueError, match=f"for line 101 of in.txt: it {problem}; nothing of rows "
                                         "80–119 was written"):
        embedjob.run(encoder, source, out, chunk=CHUNK)
    assert json.loads(embedjob.record_path(out).read_text())["done"] == 80
    assert np.load(out)[80:].any() == np.False_  # nothing written past what the record says


def test_rows_damaged_while_the_job_runs_fail_the_final_check(tmp_path):
    encoder = FakeEncoder()
    source = write_input(tmp_path / "in.txt", 230)
    whole = tmp_path / "whole.npy"
    embedjob.run(encoder, source, whole, chunk=CHUNK)
    out = tmp_path / "out.npy"

    def damage(done, total):
        if done == 120:  # a write that did not land, found only when the job ends
            damage_rows(out, 5, 0.0)

    with pytest.raises(ValueError, match=r"did not verify after writing: chunk 1 \(rows "
                                         r"0–39\): row 5 is all zeros.*--resume"):
        embedjob.run(encoder, source, out, chunk=CHUNK, progress=damage)
    assert embedjob.record_path(out).exists()  # kept, so the damage can be encoded again
    job = embedjob.run(encoder, source, out, chunk=CHUNK, resume=True)
    np.testing.assert_array_equal(np.load(out), np.load(whole))
    assert job.resumed_from == 0
    assert not embedjob.record_path(out).exists()


def test_the_cli_says_what_it_verified_and_refuses_a_bad_record(tmp_path, tiny_model_dir,
                                                                 tiny_encoder, capsys):
    source = write_input(tmp_path / "in.txt", 230)
    common = ["--model", str(tiny_model_dir), "--dtype", "float32", "--device", "cpu",
              "--chunk", str(CHUNK), "-q"]
    whole = tmp_path / "whole.npy"
    assert main(["embed", str(source), "--out", str(whole), *common]) == 0
    part = tmp_path / "part.npy"
    with pytest.raises(Interrupted):
        embedjob.run(tiny_encoder, source, part, chunk=CHUNK, progress=interrupt_after(3))
    damage_rows(part, 90, 0.0)
    capsys.readouterr()
    assert main(["embed", str(source), "--out", str(part), "--resume", *common]) == 0
    err = capsys.readouterr().err
    assert "resumed after 80: verified 80 rows in 2 chunk(s), encoded 136" in err
    assert "e5ui: note: 40 row(s) in 1 chunk(s)" in err and "row 90 is all zeros" in err
    np.testing.assert_array_equal(np.load(part), np.load(whole))

    with pytest.raises(Interrupted):
        embedjob.run(tiny_encoder, source, part, chunk=CHUNK, progress=interrupt_after(2))
    edit_record(part, done="abc")
    assert main(["embed", str(source), "--out", str(part), "--resume", *common]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err == [f"e5ui: error: The progress record {embedjob.record_path(part)} is not "
                   "valid: 'done' must be a whole number of at least 0, not \"abc\"; delete "
                   f"{embedjob.record_path(part)} and {part} to start the job again"]
