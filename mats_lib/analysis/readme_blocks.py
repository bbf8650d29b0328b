"""The README's generated blocks: the text between two marker comments, rewritten from a committed report's JSON
(the transfer table, the claims summary), so that a test can check the README against that JSON. The study layer
writes them (``study.update_readme``)."""
from __future__ import annotations



def replace_block(readme: str, begin: str, end: str, block: str) -> str:
    """``readme`` with everything from ``begin`` to ``end`` (the markers included) replaced by ``block``."""
    if begin not in readme or end not in readme:
        raise ValueError(f"README has no {begin} ... {end} block")
    head, rest = readme.split(begin, 1)
    return head + block + rest.split(end, 1)[1]
