"""The texts the study embeds about a label, in one place: each keeps its exact wording (tagclap's class prompt is
part of its fingerprint; the encoder report words its own), so unifying where they live changes no number.
"""
from __future__ import annotations

from .data.labels import noun_phrase

# A labelled clip's one-event caption: what the noise calibration, the mean_shift offset, the modality-gap pairs
# and the text-domain error put beside the clip's audio.
LABEL_CAPTION = "The sound of {}."
# The zero-shot class prompt of both encoders (tagclap's class matrix, MiniCLAP's pairs and gate, the encoder
# ceilings of the encoders-and-data notebook).
ZERO_SHOT_PROMPT = "the sound of {}"
# The encoder report's prompt for the packaged animal clips (named by a bare noun).
ANIMAL_PROMPT = "the sound of a {}"


def label_caption(label: str) -> str:
    """'dog' -> 'The sound of a dog.'"""
    return LABEL_CAPTION.format(noun_phrase(label))


def zero_shot_prompt(label: str) -> str:
    """'dog' -> 'the sound of a dog'"""
    return ZERO_SHOT_PROMPT.format(noun_phrase(label))
