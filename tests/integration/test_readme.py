"""The README's Python snippets run as written (offline, HF_HUB_OFFLINE=1: the hub must not be
touched), against the bundled model, the app on loopback and a real embedding server — with
only the server addresses put in. What each snippet's comments promise is checked against what
it computed, with independent references where the snippet computes something."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def snippets() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def snippet(first_line: str) -> str:
    """The one snippet whose first line is ``first_line`` (exactly: "from e5ui import Encoder"
    must not also find "from e5ui import Encoder, textio, ...")."""
    (found,) = [s for s in snippets() if s.split("\n", 1)[0] == first_line]
    return found


def run(code: str, cwd, timeout: int = 600) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT),
               TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{code}\n---\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_the_readme_has_the_snippets_this_test_runs():
    starts = sorted(s.split("\n", 1)[0] for s in snippets())
    assert starts == ["from e5ui import Encoder", "from e5ui import Encoder, textio, use_vectors, "
                      "views", "from e5ui import RemoteEncoder",
                      "from gradio_client import Client"]


def test_the_python_api_snippet_runs_and_computes_what_it_says(tmp_path):
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    # The snippet as written, then a look at what it left behind (its own variables).
    check = textwrap.dedent("""
        import json
        import numpy as np
        np.save("emb.npy", emb); np.save("src.npy", src_emb); np.save("tgt.npy", tgt_emb)
        print(json.dumps({
            "source": enc.describe()["source"], "shape": list(emb.shape),
            "pairs": [[p.src, p.tgt] for p in pairs.pairs],
            "nb": nb.indices.tolist(), "proj": list(proj.coords.shape),
            "top": len(result.top.rows), "n": corpus.n if hasattr(corpus, "n") else len(corpus),
            "near": [row[1] for row in near.table.rows],
            "hit_langs": [r[4] for r in hits.table.rows],
            "emb_map": m.data.embeddings.tolist(),
        }))
    """)
    out = run(snippet("from e5ui import Encoder") + check, tmp_path)
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts["source"] == "bundled"  # offline: the fallback the comment promises
    emb = np.load(tmp_path / "emb.npy")
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # The translations are matched crosswise, as the comments say (checked against the
    # embeddings: each source's most similar target).
    src, tgt = np.load(tmp_path / "src.npy"), np.load(tmp_path / "tgt.npy")
    assert (src @ tgt.T).argmax(axis=1).tolist() == [1, 0]
    assert sorted(map(tuple, facts["pairs"])) == [(0, 1), (1, 0)]
    assert facts["nb"] == [[1], [0]] and facts["proj"] == [3, 2]
    with open(tmp_path / "matrix.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == facts["n"] + 1 and facts["top"] >= 3
    # The map's part: text 0's five nearest by cosine (numpy here), translations of the German
    # query in other languages only, three selected rows, a page with its neighbours inside.
    x = np.asarray(facts["emb_map"])
    cos = x @ x[0]
    cos[0] = -np.inf
    assert facts["near"] == np.argsort(-cos, kind="stable")[:5].tolist()
    assert facts["hit_langs"] and "de" not in facts["hit_langs"]
    with open(tmp_path / "selection.tsv", encoding="utf-8", newline="") as f:
        assert len(list(csv.reader(f, delimiter="\t"))) == 4
    assert 'type="application/json"' in (tmp_path / "map.html").read_text(encoding="utf-8")


def test_the_vectors_snippet_maps_again_without_encoding(tmp_path):
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    check = textwrap.dedent("""
        import json
        import numpy as np
        import pyarrow.parquet as pq
        column = np.stack(pq.read_table("map.parquet").column("embedding").to_numpy(
            zero_copy_only=False))
        near = views.map_neighbours(views.map_view(views.map_data(other, again), method="pca"),
                                    0, k=3, encoder=other)
        print(json.dumps({
            "file": bool(np.array_equal(column, first.data.embeddings)),
            "same": bool(np.array_equal(m.projection.coords, first.projection.coords)),
            "hits": len(hits.table.rows), "own": vec.own, "calibrated": other.calibrated,
            "near_pct": [row[3] for row in near.table.rows],
            "notes": [n for n in near.map.notes if n.startswith("Calibration off")],
        }))
    """)
    code = snippet("from e5ui import Encoder, textio, use_vectors, views")
    facts = json.loads(run(code + check, tmp_path).strip().splitlines()[-1])
    assert facts["file"] and facts["same"] and facts["own"] and facts["hits"] >= 1
    assert facts["calibrated"] is False and facts["near_pct"] == [None] * 3
    assert len(facts["notes"]) == 1


def test_the_gradio_client_snippet_runs_against_the_app(app_client, tmp_path):
    code = snippet("from gradio_client import Client").replace(
        "http://127.0.0.1:7860/", app_client.src)
    out = run(code, tmp_path)
    assert "2 pairs from 2 source and 2 target sentences" in out
    data = eval(out.strip().splitlines()[-1])  # the printed table["data"], a Python literal
    assert sorted((row[0], row[1]) for row in data) == [(0, 1), (1, 0)]


def test_the_remote_encoder_snippet_runs_against_a_real_server(infinity_url, tmp_path,
                                                               bundled_encoder):
    code = snippet("from e5ui import RemoteEncoder").replace(
        "http://lb.internal:8080/v1", infinity_url)
    out = run(code + "\nimport numpy as np\nnp.save('emb.npy', emb)\n", tmp_path)
    assert out == ""
    remote = np.load(tmp_path / "emb.npy")
    # The server embeds the bundled model; the client added the prefix: the same vector as
    # the in-process encoder's.
    local = bundled_encoder.encode(["The train is late."], kind="query")
    assert float((remote @ local.T).min()) > 0.9999
