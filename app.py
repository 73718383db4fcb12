"""python app.py [--model large] [--host 127.0.0.1] [--port 7860] [--share] [--cache-dir DIR]
[--dtype auto]: parse flags, build the UI, launch."""

from __future__ import annotations

import sys

from e5ui.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
