"""The study's analyses: pure functions that return tables (dicts, JSON, Markdown), no plotting.

Notebooks, scripts and tests share them: ``transfer_table`` (the paper's transfer conditions with
baselines and paired intervals).
"""
