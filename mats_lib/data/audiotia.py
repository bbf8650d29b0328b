"""AudioTIA-mini: the text-only training corpus, in AudioTIA-5M's record format.

Records are ``{"caption": text for the CLAP text tower, "output": target, "task": source, "instruction": ...}``
(the paper's AudioTIA-5M and the release's source list). Sources, with the sampling ratio that sets how often a training step draws from
each (the paper's semantics: P(source) = ratio / sum of ratios):

| source                 | tag                         | ratio | texts |
|------------------------|-----------------------------|-------|-------|
| tia_audioset_caption   | [audio caption audiocaps]   | 40    | templated captions of the 22,160 real AudioSet label sets |
| tia_scene_caption      | [audio caption audiocaps]   | 40    | the scene caption grammar over benchmark and AudioSet labels |
| tia_class_description  | [single event]              | 50    | written descriptions of every class -> its label (the `*_gpt4.json` analogue) |
| tia_vocal              | [vocal event]               | 20    | descriptions of voices, from Asterisk transcripts not in the eval sample |
| tia_multi_events       | [multi events]              | 25    | AudioSet label-set captions -> their label list |
| tia_qa                 | [audio qa]                  | 30    | questions and answers over label sets and scene timelines |

No open-ended source is built: answers to open questions would have to come from an LLM judged by no one,
which this study cannot check; the real OpenAQA/MusicQA files load by path on a GPU host.

Zero-shot discipline: every caption/output that equals an eval caption, exactly or after normalisation
(case, punctuation, word order, stop words), is dropped. Class names may appear, as in the paper.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..assets import audioset_label_files, list_source_clips
from ..seed import make_generators
from .io import write_json, write_jsonl
from .labels import CATEGORY_QUESTION, category, noun_phrase
from .scenes import NUMBER_WORDS, caption, plan_scene
from .synth import SENTENCES
from .tasks import get_task

SOURCE_RATIOS = {"tia_audioset_caption": 40, "tia_scene_caption": 40, "tia_class_description": 50,
                 "tia_vocal": 20, "tia_multi_events": 25, "tia_qa": 30}
# Parents that add nothing next to a specific label ("Animal" beside "Dog").
GENERIC = {"animal", "music", "vehicle", "domestic animals", "livestock", "wild animals", "sound effect",
           "environmental noise", "noise", "inside", "outside", "speech", "human voice", "musical instrument",
           "mechanisms", "tools", "liquid", "generic impact sounds", "surface contact", "sounds of things",
           "source-ambiguous sounds", "channel", "silence"}
STOP = {"a", "an", "the", "is", "are", "of", "in", "and", "with", "while", "then", "by", "can", "be", "heard",
        "sound", "followed", "over", "background", "recording", "clip", "at", "to"}

WHERE = ("indoors", "outdoors", "up close", "from a distance", "in a quiet room", "in a large hall", "in a video game",
         "on a windy day", "at night", "in the city", "in the countryside", "through a wall")
MANNER = ("repeats a few times", "is heard once", "fades out slowly", "is loud", "is faint", "starts suddenly",
          "lasts a few seconds", "is short")
DESCRIPTIONS = ("A short recording of {np}.", "The sound of {np}, recorded {where}.", "{NP} can be heard {where}.",
                "A clip in which {np} {manner}.", "{NP} {manner}.", "Someone recorded {np} {where}.",
                "An audio clip of {np}.", "{NP}, clearly audible.", "This is {np}, heard {where}.",
                "Listen: {np} {manner}.", "A sound effect of {np}.", "{NP} {manner}, {where}.")
AUDIOSET_CAPTIONS = {1: ("{A} is heard.", "The sound of {a}.", "A recording of {a}.", "{A} can be heard."),
                     2: ("{A} and {b} are heard.", "{A} along with {b}.", "{A} can be heard together with {b}.",
                         "A recording of {a} and {b}."),
                     3: ("{A}, {b} and {c}.", "A recording of {a}, {b} and {c}.", "{A} together with {b} and {c}.",
                         "{A} and {b}, with {c}.")}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", " ", text.lower())).strip()


def signature(text: str) -> tuple[str, ...]:
    """Near-duplicate key: the sorted content words (order, case, punctuation and stop words ignored)."""
    return tuple(sorted(w for w in normalise(text).split() if w not in STOP))


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def audioset_name(display_name: str) -> str:
    """'Roaring cats (lions, tigers)' -> 'roaring cats'; 'Vehicle horn, car horn, honking' -> 'vehicle horn'."""
    name = re.sub(r"\([^)]*\)", "", display_name)
    return re.sub(r"\s+", " ", name.split(",")[0]).strip().lower()


def audioset_label_sets() -> tuple[list[str], list[list[str]]]:
    """(all clean class names, label sets of the 22,160 balanced-train segments, generic parents dropped)."""
    index_file, segments_file = audioset_label_files()
    names = {}
    with open(index_file, newline="") as f:
        for row in csv.DictReader(f):
            names[row["mid"]] = audioset_name(row["display_name"])
    label_sets = []
    for line in segments_file.read_text().splitlines():
        if line.startswith("#") or '"' not in line:
            continue
        mids = line.split('"')[1].split(",")
        labels = list(dict.fromkeys(names[m] for m in mids if m in names))
        specific = [l for l in labels if l not in GENERIC]
        label_sets.append(specific or labels)
    return sorted(set(names.values())), label_sets


def _audioset_caption(labels: list[str], rng: np.random.Generator) -> str:
    labels = labels[:3]
    template = str(rng.choice(AUDIOSET_CAPTIONS[len(labels)]))
    nps = [noun_phrase(l) for l in labels]
    fields = dict(zip("abc", nps))
    fields.update({k.upper(): _cap(v) for k, v in fields.items()})
    return template.format(**fields)


def _describe(label: str, rng: np.random.Generator) -> str:
    np_ = noun_phrase(label)
    return str(rng.choice(DESCRIPTIONS)).format(np=np_, NP=_cap(np_), where=str(rng.choice(WHERE)),
                                                manner=str(rng.choice(MANNER)))


def build_audiotia(out: Path, seed: int, class_labels: list[str], eval_texts: list[str],
                   excluded_transcripts: set[str], descriptions_per_class: int = 20,
                   scene_captions: int = 8000) -> dict:
    gens = make_generators(seed)
    audioset_names, label_sets = audioset_label_sets()
    sources: dict[str, list[dict]] = {name: [] for name in SOURCE_RATIOS}

    def add(source: str, caption_text: str, output: str, instruction: str | None = None) -> None:
        task = get_task(source)
        sources[source].append({"caption": caption_text, "output": output, "task": source,
                                "instruction": instruction or task.instruction})

    rng = gens.child("audioset").numpy
    for labels in label_sets:
        text = _audioset_caption(labels, rng)
        add("tia_audioset_caption", text, text)
        if len(labels) >= 2:
            add("tia_multi_events", _audioset_caption(labels, rng), ", ".join(labels[:3]))
        _qa_from_labels(add, _audioset_caption(labels, rng), labels[:3], audioset_names, rng)

    rng = gens.child("scenes").numpy
    vocabulary = sorted(set(class_labels) | set(audioset_names))
    pool = [(label, label, 2.0) for label in vocabulary]
    for k in range(scene_captions):
        scene = plan_scene(f"text_{k}", pool, rng)
        text = caption(scene, rng)
        add("tia_scene_caption", text, text)
        fg = [e for e in scene.events if not e.background]
        if k % 4 == 0 and len(fg) >= 2 and fg[1].onset >= fg[0].offset:
            add("tia_qa", text, fg[0].label, "Which sound is heard first?")

    rng = gens.child("descriptions").numpy
    for label in sorted(set(class_labels)):
        for _ in range(descriptions_per_class):
            add("tia_class_description", _describe(label, rng), label)
    for label in audioset_names:
        for _ in range(5):
            add("tia_class_description", _describe(label, rng), label)

    rng = gens.child("vocal").numpy
    transcripts = [c.raw_name for c in list_source_clips("speech") if c.raw_name not in excluded_transcripts]
    transcripts = [t for t in transcripts if t not in SENTENCES]
    voices = {"man speaking": ("A man says: \"{}\"", "A male voice speaking: \"{}\"", "A man reads out: \"{}\""),
              "woman speaking": ("A woman says: \"{}\"", "A female voice announces: \"{}\"", "A woman speaking: \"{}\""),
              "whispering": ("Someone whispers: \"{}\"", "A hushed whisper: \"{}\"", "A person whispering: \"{}\"")}
    for transcript in transcripts:
        for label, templates in voices.items():
            add("tia_vocal", str(rng.choice(templates)).format(transcript), label)

    removed = _enforce_zero_shot(sources, eval_texts)
    ratios, counts = {}, {}
    for name, records in sources.items():
        write_jsonl(out / f"{name}.jsonl", records)
        ratios[name] = {"file": f"{name}.jsonl", "ratio": SOURCE_RATIOS[name], "task": name,
                        "tag": get_task(name).tag, "records": len(records)}
        counts[name] = len(records)
    write_json(out / "sources.json", ratios)
    return {"records": counts, "total": sum(counts.values()), "removed_for_zero_shot": removed}


def _qa_from_labels(add, caption_text: str, labels: list[str], vocabulary: list[str], rng: np.random.Generator) -> None:
    """One question per label set, drawn among: count, presence (yes/no), category."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        add("tia_qa", caption_text, NUMBER_WORDS[len(labels)], "How many different sounds are there?")
    elif kind == 1:
        if rng.random() < 0.5:
            other = str(rng.choice(vocabulary))
            if other not in labels:
                add("tia_qa", caption_text, "no", f"Is there {noun_phrase(other)} in the recording?")
                return
        add("tia_qa", caption_text, "yes", f"Is there {noun_phrase(str(rng.choice(labels)))} in the recording?")
    else:
        for label in labels:
            cat = category(label)
            if cat in CATEGORY_QUESTION and sum(category(x) == cat for x in labels) == 1:
                add("tia_qa", caption_text, label, CATEGORY_QUESTION[cat])
                return


def _enforce_zero_shot(sources: dict[str, list[dict]], eval_texts: list[str]) -> int:
    banned_exact = {normalise(t) for t in eval_texts}
    banned_near = {signature(t) for t in eval_texts}
    removed = 0
    for name, records in sources.items():
        # captions are checked (and outputs of captioning sources, equal to them); labels and answers may
        # repeat class names, as in the paper
        kept = [r for r in records if normalise(r["caption"]) not in banned_exact
                and signature(r["caption"]) not in banned_near]
        removed += len(records) - len(kept)
        sources[name] = kept
    return removed
