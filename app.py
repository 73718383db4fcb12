"""python app.py: parse flags, build the UI, launch."""

from __future__ import annotations

if __name__ == "__main__":
    print("e5ui: the web app is coming; meanwhile use python -m e5ui embed FILE --out emb.npy")
