"""Raw names of the packaged clips -> class labels, noun phrases and coarse categories.

Rules, not hand labels, so they are documented here and apply to any new file:
- OpenSFX: the quoted title, without biome prefixes ("Toyland:"), numbering "(2)" or parentheses;
- file-named sources (Wesnoth, animals, sound icons, freedesktop): the stem without numbering, words
  split on '-' / '_', Czech/German instrument names and game verbs rewritten (``WORD_MAP``),
  e.g. ``horse-canter-2.ogg`` -> "horse cantering", ``wolf-growl-3.ogg`` -> "wolf growling";
- speech prompts: "woman speaking" (the Asterisk voice is one woman).
"""
from __future__ import annotations

import re

WORD_MAP = {
    "canter": "cantering", "die": "dying", "growl": "growling", "shriek": "shrieking", "laugh": "laughing",
    "charge": "charging", "attack": "attacking", "miss": "missing", "flapping": "wings flapping",
    "magicmissile": "magic missile", "cembalo": "harpsichord", "klavichord": "clavichord",
    "cymbaly": "cymbals", "xylofon": "xylophone", "pisk": "whistle", "cink": "clink",
    "violoncello": "cello", "sml": "short", "oga": "", "fuse": "burning fuse", "ugg": "grunt",
    "birds1": "birds", "birds2": "birds", "birds3": "birds", "wardrums": "war drums",
}
BIOME_PREFIX = re.compile(r"^(toyland|tropical|arctic|sub-?arctic|temperate|lumber mill):\s*", re.I)


def opensfx_label(raw_name: str) -> str:
    """'"Toyland: Bubble plop". By ...' -> 'bubble plop'."""
    title = raw_name.split('"')[1] if raw_name.count('"') >= 2 else raw_name
    title = BIOME_PREFIX.sub("", title.strip())
    title = re.sub(r"\s*\([^)]*\)?\s*$", "", title)  # "(2)", "(rail builds)", and one unclosed "("
    title = title.replace("/", " or ").replace(",", "")
    return re.sub(r"\s+", " ", title).strip().lower()


def file_label(file_name: str) -> str:
    """'horse-canter-2.ogg' -> 'horse cantering'."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", file_name).lower()
    words = [w for w in re.split(r"[-_\s]+", stem) if w and not w.isdigit()]
    words = [WORD_MAP.get(w, w) for w in words]
    if words == ["missing"]:  # Wesnoth's generic "miss-N": an attack that misses
        words = ["attack", "missing"]
    return re.sub(r"\s+", " ", " ".join(w for w in words if w)).strip()


# Mass nouns and plurals take no article in a caption ("rain falls", not "a rain").
NO_ARTICLE = ("wind", "heavy wind", "applause", "rain", "fire", "steam", "thunder", "lightning", "white noise",
              "rumbling noise", "mining machinery", "morse", "gold", "poison", "ink", "net", "magic", "whispering",
              "static", "music", "speech", "laughter", "water", "electric sparking")


MASS_HEADS = {"music", "noise", "speech", "singing", "laughter", "rain", "wind", "water", "applause", "traffic",
              "static", "machinery", "sparking", "steam", "fire", "thunder", "hubbub", "chatter", "whispering",
              "clapping", "breathing", "cheering", "crying", "snoring", "screaming", "shouting", "gunfire"}


def noun_phrase(label: str) -> str:
    """'cow' -> 'a cow'; 'explosion' -> 'an explosion'; 'birds', 'applause', 'salsa music' -> unchanged."""
    words = label.split()
    first, last = words[0], words[-1]
    plural = (first.endswith("s") and not first.endswith("ss")) or (last.endswith("s") and not last.endswith("ss"))
    if label in NO_ARTICLE or first in NO_ARTICLE or last in MASS_HEADS or plural:
        return label
    return ("an " if label[0] in "aeiou" else "a ") + label


CATEGORIES = {
    "animal": {"cow", "sheep", "horse", "dog", "cat", "duck", "frog", "owl", "pig", "rooster", "bird", "birds",
               "wolf", "bat", "lion", "monkeys", "canary", "tusker", "gryphon", "drake", "cockchafer", "bubble"} - {"bubble"},
    "vehicle": {"train", "plane", "jet", "helicopter", "bus", "truck", "car", "ship", "ferry", "maglev",
                "monorail", "engine", "vehicle", "propeller", "tunnel"},
    "music": {"piano", "guitar", "trumpet", "cello", "harpsichord", "clavichord", "xylophone", "cymbals",
              "percussion", "fanfare", "chord", "drums", "plucked"},
    "voice": {"human", "woman", "man", "speaking", "whispering", "laughing", "groan", "grunt", "wail", "oooh",
              "applause"},
    "weapon": {"bow", "crossbow", "sword", "spear", "mace", "axe", "gunshot", "dagger", "club", "flail", "sling",
               "knife", "hatchet", "thunderstick", "dragonstick", "staff", "dart", "explosion"},
    "weather": {"wind", "rain", "fire", "campfire", "thunder", "lightning", "water", "rumble"},
    "alarm": {"alarm", "bell", "beep", "beeping", "phone", "siren", "whistle", "morse", "horn", "ringing",
              "telephone", "prompt", "warning", "crossing"},
}
CATEGORY_QUESTION = {"animal": "Which animal is heard?", "vehicle": "Which vehicle is heard?",
                     "music": "Which instrument is playing?", "weapon": "Which weapon is heard?",
                     "weather": "What natural sound is heard?", "alarm": "What signal or alarm is heard?",
                     "voice": "What human sound is heard?"}


def category(label: str) -> str:
    """Coarse category by keyword (first match in the order of CATEGORIES), else 'other'."""
    words = set(label.replace(" or ", " ").split())
    for name, keywords in CATEGORIES.items():
        if words & keywords:
            return name
    return "other"
