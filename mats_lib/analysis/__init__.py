"""The study's analyses: pure functions from results (evaluation parts, embeddings, timings) to tables, verdicts
and their Markdown; no training, no evaluation, no plotting, no files written. What computes those results for
them is ``mats_lib.study``.
"""
