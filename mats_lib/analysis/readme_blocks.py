"""The README's generated blocks: the text between two marker comments, rewritten from a committed report's JSON
(the transfer table, the claims summary), so that a test can check the README against that JSON."""
from __future__ import annotations

from pathlib import Path

from ..paths import REPO_ROOT
from ..provenance import write_atomic


def replace_block(readme: str, begin: str, end: str, block: str) -> str:
    """``readme`` with everything from ``begin`` to ``end`` (the markers included) replaced by ``block``."""
    if begin not in readme or end not in readme:
        raise ValueError(f"README has no {begin} ... {end} block")
    head, rest = readme.split(begin, 1)
    return head + block + rest.split(end, 1)[1]


def update_readme(begin: str, end: str, block: str) -> Path:
    readme = REPO_ROOT / "README.md"
    write_atomic(readme, replace_block(readme.read_text(), begin, end, block))
    return readme
