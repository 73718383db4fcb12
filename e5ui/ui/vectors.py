"""Vectors you already have, in the app: the "Vectors" upload beside a view's text upload, the
"another model" checkbox, and the one function that turns them (or an uploaded Parquet file's
own ``embedding`` column) into the encoder the view gets, as the CLI's ``with_vectors`` does.

Gradio keeps every upload in a folder of its own, so an ``.npy`` and the JSON describing it
never arrive side by side (nor, always, under the names they had): they are paired here, by
link, in a folder that lives as long as the reading.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from e5ui import textio
from e5ui.encoding.vectors import LoadedVectors, VectorsMismatch, use_vectors
from e5ui.textio import vectors as vectorio

VECTOR_TYPES = [".npy", ".json", ".parquet"]
OTHER_LABEL = "Use vectors of another model (calibration off)"
FILES_LABEL = "Vectors: an .npy and its .json, or a .parquet with an 'embedding' column"


def vectors_input(uploads: Sequence[gr.File], labels: Sequence[str] | None = None,
                  prefix: str = "") -> tuple[list[gr.File], gr.Checkbox]:
    """A closed accordion "Vectors you already have": one vectors upload per text upload and
    the checkbox that allows another model's vectors. Each upload keeps its vectors slot
    (``slot_of``), so whatever empties the upload empties that too.

    Args:
        uploads: the view's text uploads (``common.text_input``'s).
        labels: each slot's label (the default names what it takes).
        prefix: the elem_id prefix ("map" gives "map-vectors", "map-other-vectors").

    Returns:
        The vectors uploads (inputs of the view's events, after the column choices) and the
        checkbox.
    """
    labels = list(labels or [FILES_LABEL] * len(uploads))
    slots = []
    with gr.Accordion("Vectors you already have (no encoding)", open=False,
                      elem_classes=["vectors-input"]):
        for i, (upload, label) in enumerate(zip(uploads, labels, strict=True)):
            suffix = "" if len(uploads) == 1 else f"-{i + 1}"
            slot = gr.File(label=label, file_count="multiple", file_types=VECTOR_TYPES,
                           height=90, elem_id=f"{prefix}-vectors{suffix}")
            upload.e5ui_vectors = slot
            slots.append(slot)
        other = gr.Checkbox(False, label=OTHER_LABEL, elem_id=f"{prefix}-other-vectors")
    other.e5ui_default = False  # a caller from before this parameter: not allowed
    for slot in slots:
        slot.e5ui_default = None
    return slots, other


def slot_of(upload: gr.File) -> gr.File | None:
    """The vectors upload that goes with a text upload, if it has one."""
    return getattr(upload, "e5ui_vectors", None)


@dataclass
class Chosen:
    """The encoder a view gets for one input, and what to tell the user about it.

    Attributes:
        encoder: the loaded encoder, or one serving vectors read from a file.
        notes: remarks the view's own notes do not carry (an embedding column left unused).
    """

    encoder: Any
    notes: list[str] = field(default_factory=list)


def choose(app, encoder, corpus: textio.Corpus, file: str | None,
           vectors: Sequence[str] | str | None, other: bool, what: str) -> Chosen:
    """The encoder for ``corpus``: one serving the uploaded vectors (``vectors``), or the
    ``embedding`` column e5ui recorded in the uploaded Parquet file ``file``, else ``encoder``.

    Args:
        app: the ui.common.App (every file passes its upload check).
        encoder: the loaded encoder (or one serving the other input's vectors).
        corpus: the texts read from the text box or ``file``.
        file: the text upload, or None.
        vectors: the vectors upload's files (an ``.npy`` and its ``.json``, or a ``.parquet``).
        other: use vectors of another or an unknown model, with calibration off.
        what: the input, for messages ("texts", "corpus", "queries").

    Returns:
        The choice.

    Raises:
        VectorsMismatch: another model's vectors without ``other`` (one sentence, naming both
            models and the checkbox).
        ValueError: files that do not fit the texts, or cannot be paired.
    """
    given = [vectors] if isinstance(vectors, str) else [f for f in vectors or () if f]
    for path in given:
        app.check_upload(path, "The vectors file")
    if not given:
        column, recorded = vectorio.has_embeddings(file) if file else (False, False)
        if not column:
            return Chosen(encoder)
        name = Path(file).name
        if not recorded:  # another tool's vectors: encoding stays the default
            return Chosen(encoder, [
                f"{name} has an '{vectorio.COLUMN}' column that e5ui did not write, so the "
                f"{what} were encoded; to use its vectors, upload the file again under "
                f"\"Vectors you already have\" (and tick \"{OTHER_LABEL}\" if another model "
                "made them)."])
        return Chosen(_loaded(encoder, corpus, Path(file), other,
                              f"the vectors in {name}'s '{vectorio.COLUMN}' column"))
    with paired(given) as path:
        return Chosen(_loaded(encoder, corpus, path, other, f"the vectors of {path.name}"))


def _loaded(encoder, corpus: textio.Corpus, path: Path, other: bool, which: str
            ) -> LoadedVectors:
    loaded = use_vectors(encoder, corpus, path, allow_other=True)
    if not loaded.own and not other:
        raise VectorsMismatch(f"{loaded.reason}. To use them anyway, with calibration off (no "
                              f"percentiles), tick \"{OTHER_LABEL}\" (API: other_vectors=true)")
    made = loaded.made_by.model if loaded.made_by is not None else "an unknown model"
    # First among the notes the views pass on (the view's result, its downloads, the report).
    loaded.notes.insert(0, f"Used {which}, made by {made}; nothing encoded.")
    return loaded


@contextmanager
def paired(files: Sequence[str]) -> Iterator[Path]:
    """The one vectors file among ``files``: a ``.parquet``, or an ``.npy`` with the JSON
    describing it beside it under the name e5ui reads (``emb.npy.json``), whatever name the
    JSON was uploaded under. Links, not copies: a 100,000-text ``.npy`` is 400 MB."""
    paths = [Path(f) for f in files]
    by_kind: dict[str, list[Path]] = {".npy": [], ".json": [], ".parquet": []}
    for path in paths:
        kind = path.suffix.lower()
        if kind not in by_kind:
            raise ValueError(f"Vectors are read from .npy (with its .json) or .parquet files, "
                             f"not {path.name!r}")
        by_kind[kind].append(path)
    arrays, sidecars, tables = by_kind[".npy"], by_kind[".json"], by_kind[".parquet"]
    if len(arrays) + len(tables) != 1:
        names = ", ".join(p.name for p in arrays + tables) or "none"
        raise ValueError("Upload one vectors file: an .npy (with its .json) or a .parquet "
                         f"with an '{vectorio.COLUMN}' column (got: {names})")
    if tables:
        if sidecars:
            raise ValueError(f"{sidecars[0].name} describes an .npy; a .parquet file carries "
                             "its own record")
        yield tables[0]
        return
    npy = arrays[0]
    side = vectorio.sidecar_path(npy).name
    if len(sidecars) > 1:
        named = [p for p in sidecars if p.name == side]
        if len(named) != 1:
            raise ValueError(f"Upload one .json with {npy.name} (its {side}); got "
                             f"{', '.join(p.name for p in sidecars)}")
        sidecars = named
    with tempfile.TemporaryDirectory(prefix="e5ui-vectors-") as folder:
        target = Path(folder) / npy.name
        _link(npy, target)
        if sidecars:
            _link(sidecars[0], vectorio.sidecar_path(target))
        yield target


def _link(source: Path, target: Path) -> None:
    try:
        os.symlink(source.resolve(), target)
    except OSError:  # no symlinks here (Windows without the right): a copy
        shutil.copyfile(source, target)
