"""Pure analysis: plain functions of numpy arrays (no model, no I/O, no UI).

similarity   cosine matrices, heatmap orderings, cluster summaries, the most similar pairs
calibration  a model's unrelated-pair baseline, percentiles and rescaled scores
neighbours   chunked exact top-k, cross-lingual filter, margin re-ranking, hubness
bitext       one-to-one sentence matching (margin or cosine) and its evaluation
projection   UMAP / PCA maps and their neighbour preservation

Modules here import numpy, scipy, scikit-learn and umap-learn only (tests/unit/test_layers.py).
"""
