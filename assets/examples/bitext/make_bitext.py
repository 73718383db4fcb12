"""Build the one-click bitext demo set from ../parallel/.

source.txt: the first 30 English lines, in order.
target.txt: their translations (lines 0-9 German, 10-19 French, 20-29 Japanese), shuffled
            with random.Random(7).
gold.tsv:   src_index<TAB>tgt_index (0-based line numbers) for every true pair.

Run from anywhere:  python assets/examples/bitext/make_bitext.py
"""

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARALLEL = HERE.parent / "parallel"
N = 30
BLOCKS = [(range(0, 10), "de"), (range(10, 20), "fr"), (range(20, 30), "ja")]
SEED = 7


def read_lines(lang: str) -> list[str]:
    return (PARALLEL / f"{lang}.txt").read_text(encoding="utf-8").splitlines()


def main() -> None:
    source = read_lines("en")[:N]
    translation = {}
    for rows, lang in BLOCKS:
        lines = read_lines(lang)
        for i in rows:
            translation[i] = lines[i]

    order = list(range(N))  # order[j] = source index of target line j
    random.Random(SEED).shuffle(order)
    target = [translation[i] for i in order]
    tgt_of_src = {src: j for j, src in enumerate(order)}

    (HERE / "source.txt").write_text("\n".join(source) + "\n", encoding="utf-8")
    (HERE / "target.txt").write_text("\n".join(target) + "\n", encoding="utf-8")
    gold = ["src_index\ttgt_index"] + [f"{i}\t{tgt_of_src[i]}" for i in range(N)]
    (HERE / "gold.tsv").write_text("\n".join(gold) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
