"""Builds map_parallel.tsv: the first 24 sentences of parallel/ in 8 languages, with ids that
link translations (python assets/examples/make_map_example.py)."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
LANGS = ["en", "de", "fr", "es", "ja", "zh", "ru", "ar"]

rows = ["text\tlang\tid"]
for lang in LANGS:
    lines = (HERE / "parallel" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()[:24]
    rows += [f"{text}\t{lang}\tp{i + 1:02d}" for i, text in enumerate(lines)]
(HERE / "map_parallel.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
