"""A checkpoint's weights read straight into a narrower dtype, a slice at a time.

transformers loads a float32 checkpoint into bfloat16 by mapping the whole file and converting
tensor by tensor; every page it converted stays mapped until the load ends, so the process
peaks at the float32 file *plus* the bfloat16 copy (3.7 GB for multilingual-e5-large, against
2.5 GB for running it in float32). Here each slice of at most ``CHUNK_BYTES`` is read through
its own ``safetensors.safe_open``, whose mapping is closed before the next one opens: the peak is
the bfloat16 model plus one slice. transformers then builds the model from that state dict, so
key names, tied and missing weights are handled as for any checkpoint.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

logger = logging.getLogger(__name__)

# Small enough to be noise beside a model, large enough that re-opening the file per slice
# (a header parse) costs nothing measurable.
CHUNK_BYTES = 64 << 20


def checkpoint_files(folder: Path) -> list[Path] | None:
    """The safetensors files of a Hugging Face model folder (one, or the shards its index
    names), or None when it has none (a ``pytorch_model.bin`` checkpoint)."""
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / name for name in shards]
    return None


def read_state_dict(files: list[Path], dtype) -> dict:
    """Every tensor of ``files`` as a ``dtype`` tensor (floating-point ones; integer tensors
    keep theirs), read ``CHUNK_BYTES`` at a time along the first axis."""
    import torch
    from safetensors import safe_open

    state = {}
    for path in files:
        with safe_open(str(path), framework="pt") as handle:
            shapes = {name: handle.get_slice(name).get_shape() for name in handle.keys()}
        for name, shape in shapes.items():
            row_bytes = 8 * math.prod(shape[1:])  # the widest dtype a checkpoint holds
            step = max(1, CHUNK_BYTES // max(row_bytes, 1))
            if len(shape) < 2:  # biases and norms: small, read whole
                with safe_open(str(path), framework="pt") as handle:
                    tensor = handle.get_tensor(name)
                state[name] = tensor.to(dtype) if tensor.is_floating_point() else tensor
                continue
            out = None
            for start in range(0, shape[0], step):
                with safe_open(str(path), framework="pt") as handle:
                    part = handle.get_slice(name)[start:start + step]
                if out is None:
                    target = dtype if part.is_floating_point() else part.dtype
                    out = torch.empty(tuple(shape), dtype=target)
                out[start:start + step] = part
            state[name] = out
    return state


def load_narrow(folder: Path, dtype):
    """The transformers model of ``folder`` in ``dtype`` without the float32 checkpoint ever
    being resident beside it, or None when the folder's weights are not safetensors (the caller
    then loads it the usual way)."""
    from transformers import MODEL_MAPPING, AutoConfig

    files = checkpoint_files(folder)
    if files is None:
        return None
    config = AutoConfig.from_pretrained(str(folder))
    model_class = MODEL_MAPPING.get(type(config), None)
    if model_class is None:  # a model type only remote code knows: transformers' way decides
        return None
    state = read_state_dict(files, dtype)
    logger.debug("Read %d tensors of %s as %s, a slice at a time", len(state), folder, dtype)
    return model_class.from_pretrained(None, config=config, state_dict=state, dtype=dtype)
