"""Reading a checkpoint straight into bfloat16, a slice at a time (e5ui.encoding.weights),
checked against transformers' own loader."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from transformers import AutoModel

from e5ui.encoding import weights


def _same_state(model, reference) -> None:
    ours, theirs = model.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys()
    for name, tensor in theirs.items():
        assert ours[name].dtype == tensor.dtype, name
        assert torch.equal(ours[name], tensor), name


def test_bfloat16_state_equals_transformers_loader(tiny_model_dir, monkeypatch):
    # A slice of 4 KiB: the word embeddings (3000 x 32) come in many slices.
    monkeypatch.setattr(weights, "CHUNK_BYTES", 4096)
    model = weights.load_narrow(tiny_model_dir, torch.bfloat16)
    reference = AutoModel.from_pretrained(str(tiny_model_dir), dtype=torch.bfloat16)
    _same_state(model, reference)


def test_sharded_checkpoint(tiny_model_dir, tmp_path):
    reference = AutoModel.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    reference.save_pretrained(tmp_path, max_shard_size="100KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_model_dir / name).read_bytes())
    files = weights.checkpoint_files(tmp_path)
    assert files is not None and len(files) > 1
    model = weights.load_narrow(tmp_path, torch.float16)
    _same_state(model, AutoModel.from_pretrained(str(tmp_path), dtype=torch.float16))


def test_one_slice_open_at_a_time(tiny_model_dir, monkeypatch):
    """What bounds the peak: one mapping at a time, none holding more than a slice."""
    monkeypatch.setattr(weights, "CHUNK_BYTES", 4096)
    from safetensors import safe_open as real_open

    open_now, most_open, largest = [0], [0], [0]

    @contextlib.contextmanager
    def counting_open(*args, **kwargs):
        with real_open(*args, **kwargs) as handle:
            open_now[0] += 1
            most_open[0] = max(most_open[0], open_now[0])
            yield _Measured(handle, largest)
            open_now[0] -= 1

    monkeypatch.setattr("safetensors.safe_open", counting_open)
    state = weights.read_state_dict(weights.checkpoint_files(tiny_model_dir), torch.bfloat16)
    assert most_open[0] == 1
    # Slices are sized for 8-byte values, so a float32 one holds at most half of 4 KiB.
    assert 0 < largest[0] <= 2048
    assert state["embeddings.word_embeddings.weight"].shape == (3000, 32)


class _Measured:
    """A safe_open handle that notes the bytes of every tensor read through it."""

    def __init__(self, handle, largest):
        self._handle, self._largest = handle, largest

    def keys(self):
        return self._handle.keys()

    def get_tensor(self, name):
        return self._note(self._handle.get_tensor(name))

    def get_slice(self, name):
        inner, note = self._handle.get_slice(name), self._note

        class Slice:
            def get_shape(self):
                return inner.get_shape()

            def __getitem__(self, index):
                return note(inner[index])

        return Slice()

    def _note(self, tensor):
        if tensor.dim() >= 2:  # the sliced ones; vectors are read whole
            self._largest[0] = max(self._largest[0], tensor.numel() * tensor.element_size())
        return tensor


def test_pytorch_bin_checkpoint_is_left_to_transformers(tiny_model_dir, tmp_path):
    from e5ui.encoding import Encoder

    # transformers 5 writes safetensors only; older checkpoints on the hub are pickles.
    reference = AutoModel.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    torch.save(reference.state_dict(), tmp_path / "pytorch_model.bin")
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_model_dir / name).read_bytes())
    assert weights.checkpoint_files(tmp_path) is None
    assert weights.load_narrow(tmp_path, torch.bfloat16) is None
    enc = Encoder(str(tmp_path), device="cpu", dtype="bfloat16", cache=False, fallback=False,
                  report_fidelity=False)
    narrow = Encoder(str(tiny_model_dir), device="cpu", dtype="bfloat16", cache=False,
                     fallback=False, report_fidelity=False)
    texts = ["Hello world", "Bonjour le monde"]
    np.testing.assert_array_equal(enc.encode(texts), narrow.encode(texts))
