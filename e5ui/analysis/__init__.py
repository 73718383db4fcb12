"""Pure analysis: plain functions of numpy arrays (no model, no I/O, no UI).

similarity   cosine matrices, heatmap orderings, cluster summaries, the most similar pairs
calibration  a model's unrelated-pair baseline, percentiles and rescaled scores
neighbours   chunked exact top-k, cross-lingual filter, margin re-ranking
hubness      how often each text is someone's neighbour; the hubs
bitext       one-to-one sentence matching (margin or cosine) and its evaluation
alignment    ordered document alignment (merges, splits, omissions) and link F1
projection   UMAP / PCA maps and their neighbour preservation
retrieval    MRR@k, Recall@k, top-k overlap, two models' pair-score agreement
centering    each language's mean embedding subtracted

Modules here import numpy, scipy, scikit-learn and umap-learn only (tests/unit/test_layers.py).
"""
