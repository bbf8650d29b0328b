"""Readers of the classification benchmarks, each from the metadata its dataset ships (cited per reader).

Each returns the records its metadata lists: ``audio_id`` relative to the benchmark root, ``output`` the label as a
phrase (underscores become spaces), ``references`` every label of a clip that has several (DCASE 2017). Which
of them are on disk is decided in one place, ``Benchmark.read``."""
from __future__ import annotations

import re
from pathlib import Path

from ..data.records import RecordError
from .common import CLASSIFY_PROMPT, audio_path, csv_rows, first_present, json_items, nonempty, record, require


def phrase(label: str) -> str:
    return label.replace("_", " ").strip()


def esc50(root: Path) -> list[dict]:
    """ESC-50 (karolpiczak/ESC-50, README "Repository content"): meta/esc50.csv with header
    filename,fold,target,category,esc10,src_file,take; audio/<filename>. All five folds (zero-shot)."""
    meta = require(root, "meta/esc50.csv", "esc50", "the ESC-50 metadata")
    records = []
    for line, row in csv_rows(meta, ["filename", "fold", "category"]):
        audio = f"audio/{nonempty(row['filename'], meta, line, 'filename')}"
        if not row["fold"].isdigit() or not 1 <= int(row["fold"]) <= 5:
            raise RecordError(meta, line, f"fold must be 1-5, got {row['fold']!r}")
        records.append(record(audio, phrase(nonempty(row["category"], meta, line, "category")), "esc50", CLASSIFY_PROMPT))
    return records


def us8k(root: Path) -> list[dict]:
    """UrbanSound8K (urbansounddataset.weebly.com/urbansound8k.html): metadata/UrbanSound8K.csv with header
    slice_file_name,fsID,start,end,salience,fold,classID,class; audio/fold<fold>/<slice_file_name>. All ten folds."""
    meta = require(root, "metadata/UrbanSound8K.csv", "us8k", "the UrbanSound8K metadata")
    records = []
    for line, row in csv_rows(meta, ["slice_file_name", "fold", "class"]):
        audio = f"audio/fold{nonempty(row['fold'], meta, line, 'fold')}/{nonempty(row['slice_file_name'], meta, line, 'slice_file_name')}"
        records.append(record(audio, phrase(nonempty(row["class"], meta, line, "class")), "us8k", CLASSIFY_PROMPT))
    return records


DCASE17_WEAK = "groundtruth_release/groundtruth_weak_label_evaluation_set.csv"
DCASE17_AUDIO = "evaluation_set_formatted_audio_segments"


def dcase17(root: Path) -> list[dict]:
    """DCASE 2017 task 4, evaluation set (the task's repository, groundtruth_release/): a tab-separated file without
    header, filename<TAB>start<TAB>end<TAB>label, one row per (clip, label); the audio is
    evaluation_set_formatted_audio_segments/Y<filename> (the organisers prefix every file with Y). A clip with several
    labels is one record whose ``references`` hold them all."""
    meta = require(root, DCASE17_WEAK, "dcase17", "the weak labels of the evaluation set")
    labels: dict[str, list[str]] = {}
    for line, row in csv_rows(meta, ["filename", "start", "end", "label"], header=False, delimiter="\t"):
        name = nonempty(row["filename"], meta, line, "filename")
        labels.setdefault(name, []).append(nonempty(row["label"], meta, line, "label"))
    records = []
    for name, clip_labels in labels.items():
        audio = first_present(root, [f"{DCASE17_AUDIO}/Y{name}", f"{DCASE17_AUDIO}/{name}"])
        records.append(record(audio, clip_labels[0], "dcase17", CLASSIFY_PROMPT, references=clip_labels))
    return records


def vggsound(root: Path) -> list[dict]:
    """VGGSound (hche11/VGGSound README: "YouTube ID, start seconds, label, train/test split"): vggsound.csv without
    header; the test rows. Audio as the common downloaders name it: <ytid>_<start, 6 digits>.{wav,flac} under
    the root, audio/ or test/."""
    meta = require(root, "vggsound.csv", "vggsound", "the VGGSound list")
    records = []
    for line, row in csv_rows(meta, ["ytid", "start", "label", "split"], header=False):
        if row["split"] not in ("train", "test"):
            raise RecordError(meta, line, f"split must be train or test, got {row['split']!r}")
        if row["split"] != "test":
            continue
        if not row["start"].isdigit():
            raise RecordError(meta, line, f"start must be whole seconds, got {row['start']!r}")
        stem = f"{nonempty(row['ytid'], meta, line, 'ytid')}_{int(row['start']):06d}"
        audio = first_present(root, [f"{folder}{stem}.{ext}" for folder in ("", "audio/", "test/") for ext in ("wav", "flac")])
        records.append(record(audio, nonempty(row["label"], meta, line, "label"), "vggsound", CLASSIFY_PROMPT))
    return records


def fsd50k(root: Path) -> list[dict]:
    """FSD50K (Zenodo 4060432; soundata's fsd50k loader): FSD50K.ground_truth/eval.csv with header fname,labels,mids,
    labels joined by commas; FSD50K.eval_audio/<fname>.wav. Multi-label: ``output`` lists every label."""
    meta = require(root, "FSD50K.ground_truth/eval.csv", "fsd50k", "the eval split's ground truth")
    records = []
    for line, row in csv_rows(meta, ["fname", "labels"]):
        audio = f"FSD50K.eval_audio/{nonempty(row['fname'], meta, line, 'fname')}.wav"
        labels = [phrase(l) for l in nonempty(row["labels"], meta, line, "labels").split(",") if l.strip()]
        records.append(record(audio, ", ".join(labels), "fsd50k", CLASSIFY_PROMPT, references=labels))
    return records


def tut(root: Path) -> list[dict]:
    """TUT Acoustic Scenes 2017, evaluation set (Zenodo 1040168; dcase_util's TUTAcousticScenes_2017_EvaluationSet):
    meta.txt (or evaluation_setup/evaluate.txt), tab-separated without header: audio/<name>.wav<TAB>scene."""
    meta = root / "meta.txt"
    if not meta.is_file():
        meta = require(root, "evaluation_setup/evaluate.txt", "tut", "the evaluation set's scene labels (or meta.txt)")
    records = []
    with meta.open(encoding="utf-8") as handle:
        for line, text in enumerate(handle, 1):
            if not text.strip():
                continue
            fields = text.rstrip("\n").split("\t")
            if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
                raise RecordError(meta, line, "expected <audio path><TAB><scene label>")
            audio = audio_path(fields[0].strip(), meta, line)
            records.append(record(audio, phrase(fields[1]), "tut", CLASSIFY_PROMPT))
    return records


GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")


def gtzan(root: Path) -> list[dict]:
    """GTZAN (soundata's gtzan_genre index): genres/<genre>/<genre>.000NN.wav (the Kaggle copy: genres_original/).
    Every clip, or only those of a fault-filtered split file test_filtered.txt (coreyker/dnn-mgr: one relative
    path <genre>/<file> per line) when the root holds one."""
    folder = next((f for f in ("genres", "genres_original", "Data/genres_original") if (root / f).is_dir()), None)
    if folder is None:
        raise FileNotFoundError(f"gtzan: no genres/ (or genres_original/) folder under {root}; give --root the "
                                f"folder of the GTZAN release")
    split = root / "test_filtered.txt"
    if split.is_file():
        listed = [l.strip() for l in split.read_text().splitlines() if l.strip()]
    else:
        listed = sorted(str(p.relative_to(root / folder)) for p in (root / folder).glob("*/*.wav"))
    records = []
    for line, rel in enumerate(listed, 1):
        genre = rel.split("/")[0]
        if genre not in GTZAN_GENRES:
            raise RecordError(split if split.is_file() else root / folder, line, f"{rel}: unknown genre {genre!r}")
        audio = f"{folder}/{rel}"
        records.append(record(audio, "hip hop" if genre == "hiphop" else genre, "gtzan", CLASSIFY_PROMPT))
    return records


BEIJING_OPERA = ("bangu", "daluo", "naobo", "xiaoluo")


def beijing_opera(root: Path) -> list[dict]:
    """Beijing Opera Percussion Instrument dataset (Zenodo 1285212; HEAR's and DynamicSuperb's loaders): one flat
    folder of wav files, the instrument in the file name (e.g. 205972__ajaysm__daluo...). All 236 clips (no official
    split). A name that names no instrument, or two, is an error."""
    files = sorted(root.glob("*.wav")) or sorted(root.glob("*/*.wav"))
    if not files:
        raise FileNotFoundError(f"beijing_opera: no .wav under {root}; give --root the unpacked "
                                f"beijing_opera_percussion_instrument_1.0 folder")
    records = []
    for path in files:
        found = [name for name in BEIJING_OPERA if re.search(rf"(^|[_\-]){name}($|[_\-])", path.stem.lower())]
        if len(found) != 1:
            raise RecordError(path, 0, f"the file name names {found or 'no instrument'}; expected one of {BEIJING_OPERA}")
        records.append(record(str(path.relative_to(root)), found[0], "beijing_opera", CLASSIFY_PROMPT))
    return records


def vocalsound(root: Path) -> list[dict]:
    """VocalSound (YuanGongND/vocalsound, src/prep_data.py and src/dataloaders.py): datafiles/te.json =
    {"data": [{"wav": .../<name>.wav, "labels": "<mid>"}]}, class_labels_indices_vs.csv (index,mid,display_name);
    the audio under audio_16k/ (or audio_44k/) by the file's base name. The official test split."""
    split = require(root, "datafiles/te.json", "vocalsound", "the official test split")
    index = require(root, "class_labels_indices_vs.csv", "vocalsound", "the label index")
    names = {row["mid"]: row["display_name"] for _, row in csv_rows(index, ["mid", "display_name"])}
    audio_dir = next((d for d in ("audio_16k", "audio_44k") if (root / d).is_dir()), "audio_16k")
    records = []
    for i, item in json_items(split, ["wav", "labels"], container="data"):
        mids = [m for m in str(item["labels"]).split(",") if m]
        unknown = [m for m in mids if m not in names]
        if not mids or unknown:
            raise RecordError(split, 0, f"item {i}: label(s) {unknown or mids} not in {index.name}")
        audio = f"{audio_dir}/{Path(item['wav']).name}"
        records.append(record(audio, names[mids[0]].lower(), "vocalsound", CLASSIFY_PROMPT))
    return records
