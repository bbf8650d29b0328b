"""Readers of the captioning benchmarks: one record per clip, every reference caption in ``references``; which
clips are on disk is decided by ``Benchmark.read``."""
from __future__ import annotations

from pathlib import Path

from ..data.records import RecordError
from .common import CAPTION_PROMPT, MUSIC_PROMPT, csv_rows, first_present, nonempty, record, require


def audiocaps(root: Path) -> list[dict]:
    """AudioCaps test split (cdjkim/audiocaps, dataset/test.csv): header audiocap_id,youtube_id,start_time,caption,
    one row per caption (5 per clip, not contiguous), grouped by (youtube_id, start_time). Audio under test/ (or the
    root) as the usual downloaders name it: <youtube_id>.wav, Y<youtube_id>.wav, <youtube_id>_<start ms>_<end ms>.wav,
    or <audiocap_id>.wav for any of the clip's captions."""
    meta = root / "test.csv"
    if not meta.is_file():
        meta = require(root, "dataset/test.csv", "audiocaps", "the AudioCaps test captions (test.csv)")
    clips: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for line, row in csv_rows(meta, ["audiocap_id", "youtube_id", "start_time", "caption"]):
        if not row["start_time"].replace(".", "", 1).isdigit():
            raise RecordError(meta, line, f"start_time must be seconds, got {row['start_time']!r}")
        key = (nonempty(row["youtube_id"], meta, line, "youtube_id"), row["start_time"])
        clips.setdefault(key, []).append((int(row["audiocap_id"]), row["audiocap_id"],
                                          nonempty(row["caption"], meta, line, "caption")))
    records = []
    for (ytid, start), caps in clips.items():
        caps.sort()
        start_ms = int(float(start) * 1000)
        stems = [ytid, f"Y{ytid}", f"{ytid}_{start_ms}_{start_ms + 10000}"] + [c[1] for c in caps]
        audio = first_present(root, [f"{d}{s}.{e}" for d in ("test/", "") for s in stems for e in ("wav", "flac")])
        references = [c[2] for c in caps]
        records.append(record(audio, references[0], "audiocaps", CAPTION_PROMPT, references=references))
    return records


def clotho(root: Path) -> list[dict]:
    """Clotho v2.1 evaluation split (Zenodo 4783391): clotho_captions_evaluation.csv with header
    file_name,caption_1,...,caption_5; audio evaluation/<file_name> (names contain spaces)."""
    meta = require(root, "clotho_captions_evaluation.csv", "clotho", "the evaluation captions")
    columns = ["file_name"] + [f"caption_{k}" for k in range(1, 6)]
    records = []
    for line, row in csv_rows(meta, columns):
        audio = f"evaluation/{nonempty(row['file_name'], meta, line, 'file_name')}"
        references = [nonempty(row[c], meta, line, c) for c in columns[1:]]
        records.append(record(audio, references[0], "clotho", CAPTION_PROMPT, references=references))
    return records


def musiccaps(root: Path) -> list[dict]:
    """MusicCaps (google/MusicCaps card): musiccaps-public.csv with header ytid,start_s,end_s,
    audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval; the AudioSet-eval
    clips (is_audioset_eval True, 2,858 clips), the split music-captioning peers evaluate on. Audio <ytid>.wav
    under the root, audio/ or music_data/."""
    meta = require(root, "musiccaps-public.csv", "musiccaps", "the MusicCaps list")
    records = []
    for line, row in csv_rows(meta, ["ytid", "caption", "is_audioset_eval"]):
        if row["is_audioset_eval"] not in ("True", "False"):
            raise RecordError(meta, line, f"is_audioset_eval must be True or False, got {row['is_audioset_eval']!r}")
        if row["is_audioset_eval"] != "True":
            continue
        ytid = nonempty(row["ytid"], meta, line, "ytid")
        audio = first_present(root, [f"{d}{ytid}.{e}" for d in ("", "audio/", "music_data/") for e in ("wav", "flac")])
        caption = nonempty(row["caption"], meta, line, "caption")
        records.append(record(audio, caption, "musiccaps", MUSIC_PROMPT, references=[caption]))
    return records
