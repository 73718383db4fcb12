"""The Align view through the app's API and the CLI, on the bundled model: the example's gold
links found, bad input as clear messages, and the same files from both."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ASSETS, ROOT
from tests.integration.conftest import rows, upload

pytestmark = pytest.mark.integration
EX = ASSETS / "examples" / "align"


def cli(*args, check=True):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "e5ui", "align", *map(str, args), "--model",
                           "bundled", "--dtype", "float32", "-q"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_the_example_aligns_as_its_gold_says(app_client):
    source = (EX / "source.txt").read_text(encoding="utf-8")
    target = (EX / "target.txt").read_text(encoding="utf-8")
    fig, summary, metrics, table, notes, files, *_ = app_client.predict(
        source, target, None, None, "split", 4, 0.15, "", "", upload(EX / "gold.tsv"),
        api_name="/align")
    assert fig["type"] == "plotly" and "(en → de)" in summary
    assert "strict precision 1.000 · recall 1.000 · F1 1.000" in metrics
    types = [r["type"] for r in rows(table)]
    assert {"2-1", "1-2", "1-0"} <= set(types)
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == ["alignment.csv", "alignment.tmx",
                                                            "alignment.tsv"]


@pytest.mark.parametrize("source, target, message", [
    ("", "Ein Satz.", "empty"),
    ("   \n\t \n", "Ein Satz.", "empty"),
    ("A short one.", "Ein sehr langer Satz. " * 200, "times longer"),
])
def test_bad_input_is_a_message(app_client, source, target, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        app_client.predict(source, target, api_name="/align")


def test_a_binary_file_is_a_message(app_client, tmp_path):
    from gradio_client.exceptions import AppError

    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    with pytest.raises(AppError, match="binary file"):
        app_client.predict("", "Ein Satz.", upload(binary), None, api_name="/align")
    proc = cli(binary, EX / "target.txt", check=False)
    assert proc.returncode == 2 and "binary file" in proc.stderr.strip().splitlines()[-1]


def test_app_and_cli_write_the_same_files(app_client, tmp_path):
    _fig, _summary, _metrics, _table, _notes, files, *_ = app_client.predict(
        "", "", upload(EX / "source.txt"), upload(EX / "target.txt"), api_name="/align")
    names = ["alignment.tsv", "alignment.csv", "alignment.tmx"]
    proc = cli(EX / "source.txt", EX / "target.txt", "--gold", EX / "gold.tsv",
               *[a for n in names for a in ("--out", tmp_path / n)])
    assert "F1 1.000" in proc.stdout
    app = {f.rsplit("/", 1)[-1]: open(f, "rb").read() for f in files}
    for name in names:
        assert (tmp_path / name).read_bytes() == app[name], name
    root = ET.parse(tmp_path / "alignment.tmx").getroot()
    merged = [tu for tu in root.iter("tu")
              if tu.find("prop[@type='x-type']").text == "2-1"]
    assert len(merged) == 1 and len(merged[0].findall("tuv")) == 2  # a merge is one segment


def call_raw(client, data: list) -> tuple[str, object]:
    """One /align request straight to the queue's HTTP API, its JSON written by json.dumps (a
    lone surrogate travels as the escape a browser or script sends; gradio_client cannot send
    one): ("complete", outputs) or ("error", message)."""
    import httpx

    base = client.src.rstrip("/")
    body = json.dumps({"data": data}, ensure_ascii=True).encode()
    reply = httpx.post(f"{base}/gradio_api/call/align", content=body, timeout=60,
                       headers={"content-type": "application/json"})
    reply.raise_for_status()
    event_id = reply.json()["event_id"]
    with httpx.stream("GET", f"{base}/gradio_api/call/align/{event_id}", timeout=300) as events:
        text = "".join(events.iter_text())
    kind, payload = [(k, d) for k, d in re.findall(r"^event: (\w+)\ndata: (.*)$", text, re.M)
                     if k in ("complete", "error")][-1]
    value = json.loads(payload)
    return kind, (value or {}).get("error") if kind == "error" else value


def test_control_characters_and_a_lone_surrogate_come_back_clean(app_client):
    # A lone surrogate (\ud800), which no file can hold, used to reach the tokenizer and come
    # back as "Something went wrong (TypeError ...)"; \x01, \x08, \ufffe stayed raw in the
    # table and the TSV and became U+FFFD only in the TMX.
    kind, out = call_raw(app_client, [
        "One\x01two.\nHello \ud800 world.\n", "Eins\x08zwei.\nHallo \ufffe Welt.\n", None,
        None, "lines", 1, 0.15, "en", "de", None])
    assert kind == "complete", out
    _fig, _summary, _metrics, table, notes, files, *_ = out
    texts = {r["source"] for r in rows(table)} | {r["target"] for r in rows(table)}
    assert texts - {None} == {"One two.", "Hello \ufffd world.", "Eins zwei.",
                              "Hallo \ufffd Welt."}
    assert "held control or separator characters" in notes and "U+FFFD" in notes
    for f in files:
        data = Path(f["path"]).read_text(encoding="utf-8")
        assert "Hello \ufffd world." in data and "One two." in data, f["path"]
        assert not any(ch in data for ch in "\x01\x08\ufffe"), f["path"]


def test_a_long_sentence_is_cut_and_a_bad_language_refused(app_client):
    from gradio_client.exceptions import AppError

    long = "Wort" * 12_500  # 50,000 characters, one sentence
    _fig, _summary, _metrics, table, notes, files, *_ = app_client.predict(
        f"Short.\n{long}\n", f"Kurz.\n{long}\n", None, None, "lines", 1, 0.15, "en", "de",
        None, api_name="/align")
    assert max(len(r["source"] or "") for r in rows(table)) == 20_000
    assert "were cut to their first 20000" in notes
    assert all(os.path.getsize(f) < 100_000 for f in files)
    with pytest.raises(AppError, match="source_lang"):
        app_client.predict("One.", "Eins.", None, None, "lines", 1, 0.15, "en;" * 20, "de",
                           None, api_name="/align")


def test_a_review_through_the_api_edits_saves_and_resumes(app_client, tmp_path):
    """/align_review: edits on the example's alignment (all or none), the TSV it returns is
    the review file, uploaded again it gives the same table; a file that does not fit is
    refused by its line; the TMX holds only reviewed links when asked."""
    from gradio_client.exceptions import AppError

    source = (EX / "source.txt").read_text(encoding="utf-8")
    target = (EX / "target.txt").read_text(encoding="utf-8")
    base = rows(app_client.predict(source, target, api_name="/align")[3])
    k = next(k for k, r in enumerate(base) if r["type"] == "1-1")
    j = max(j for j, r in enumerate(base) if r["type"] == "1-1")
    a, b = int(base[k]["src_indices"]), int(base[k]["tgt_indices"])
    out = app_client.predict(source, target, gold_file=upload(EX / "gold.tsv"),
                             edits=f"accept {j}; break {k}", approved_only=True,
                             api_name="/align_review")
    _fig, summary, metrics, table, _notes, files, message = out
    after = rows(table)
    assert "2 edit(s) applied" in message and "reviewed: 1 accepted" in summary
    # The broken link's two sentences are alone now, and gold F1 says the link is missing.
    assert {(r["src_indices"], r["tgt_indices"], r["status"]) for r in after} >= {
        (str(a), "–", "edited"), ("–", str(b), "edited")}
    assert "recall 1.000" not in metrics and "F1" in metrics
    tsv = next(f for f in files if f.endswith(".tsv"))
    tmx = next(f for f in files if f.endswith(".tmx"))
    statuses = [p.text for p in ET.parse(tmx).iter("prop") if p.get("type") == "x-status"]
    assert statuses == ["accepted"]
    review = tmp_path / "review.tsv"
    review.write_bytes(Path(tsv).read_bytes())
    resumed = app_client.predict(source, target, review_file=upload(review),
                                 api_name="/align_review")
    assert rows(resumed[3]) == after and "Review resumed" in resumed[-1]
    # An edit that fails leaves nothing applied: the call is refused as a whole.
    with pytest.raises(AppError, match=r"Edit 2 \(relink 0 99\).*out of range"):
        app_client.predict(source, target, edits="accept 0; relink 0 99",
                           api_name="/align_review")
    # A review of other documents: refused, naming the line that does not fit.
    shorter = "\n".join(source.splitlines()[:3])
    with pytest.raises(AppError, match=r"review\.tsv.*line \d+"):
        app_client.predict(shorter, target, review_file=upload(review),
                           api_name="/align_review")
