"""MiniCLAP: tagclap's frozen towers plus small contrastive heads trained on MiniAudio's audio-train split.

- ``encoder``: the encoder the study uses (``create_encoder("miniclap")``) and the frozen towers' features;
- ``heads``: the residual projection heads, their loss, the distance gate, the heads file;
- ``pairs``: the audio-caption pairs (audio-train clips and their mixtures) the heads learn from;
- ``training``: the heads' training and the guarded selection of their defaults (``make miniclap``);
- ``gate``: the out-of-domain gate (leave-one-source-out, as a paired interval);
- ``study``: tagclap and miniclap side by side on the eval split (``make miniclap-report``);
- ``frontier``: what the distance gate trades, post hoc (part of ``make miniclap-report``).
"""
from .encoder import FrozenTowers, MiniClap, default_heads_path

__all__ = ["FrozenTowers", "MiniClap", "default_heads_path"]
