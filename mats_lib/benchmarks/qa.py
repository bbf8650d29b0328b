"""Readers of the question-answering and chat benchmarks (Clotho-AQA, MMAU, AIR-Bench Chat); which clips are on
disk is decided by ``Benchmark.read``."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..data.records import RecordError
from .common import audio_path, csv_rows, json_items, nonempty, record, require

AIRBENCH_SUBSETS = {"airbench_sound": ("sound_QA", "sound_generation_QA"),
                    "airbench_music": ("music_QA", "music_generation_analysis_QA")}


def clotho_aqa(root: Path) -> list[dict]:
    """Clotho-AQA test split (Zenodo 6473207): clotho_aqa_test.csv with columns file_name, QuestionText, answer,
    confidence, one row per annotator answer (3 per question); audio audio_files/<file_name>. One record per
    (clip, question): ``output`` the most frequent answer (first given on a tie), ``references`` all three."""
    meta = require(root, "clotho_aqa_test.csv", "clotho_aqa", "the test questions")
    questions: dict[tuple[str, str], list[str]] = {}
    for line, row in csv_rows(meta, ["file_name", "QuestionText", "answer"]):
        key = (nonempty(row["file_name"], meta, line, "file_name"), nonempty(row["QuestionText"], meta, line, "QuestionText"))
        questions.setdefault(key, []).append(nonempty(row["answer"], meta, line, "answer"))
    records = []
    for (name, question), answers in questions.items():
        audio = f"audio_files/{name}"
        counts = Counter(answers)
        majority = max(answers, key=lambda a: (counts[a], -answers.index(a)))
        records.append(record(audio, majority, "clotho_aqa", question, references=answers))
    return records


def mmau_question(question: str, choices: list[str]) -> str:
    """The question and its options as one instruction (ours: the release's MMAU prompt file is not public)."""
    return f"{question} Choose one: " + "; ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices))


def mmau(root: Path, split_file: str = "mmau-test-mini.json") -> list[dict]:
    """MMAU (Sakshi113/MMAU): mmau-test-mini.json (or mmau-test.json), a JSON list of items with id, audio_id
    (./test-mini-audios/<id>.wav), question, choices, answer, dataset, task, split, category, sub-category,
    difficulty. ``meta`` keeps the whole item, so the predictions file can be MMAU's own format."""
    path = root / split_file
    if not path.is_file():
        path = require(root, "mmau-test.json", "mmau", f"the MMAU items ({split_file} or mmau-test.json)")
    records = []
    for i, item in json_items(path, ["id", "audio_id", "question", "choices", "answer"]):
        if not isinstance(item["choices"], list) or not item["choices"]:
            raise RecordError(path, 0, f"item {i} ({item['id']}): choices must be a non-empty list")
        audio = audio_path(str(item["audio_id"]).removeprefix("./"), path, 0)
        records.append(record(audio, str(item["answer"]), "mmau", mmau_question(item["question"], item["choices"]),
                              choices=[str(c) for c in item["choices"]], id=str(item["id"]), meta=item))
    return records


def airbench(root: Path, subset: str) -> list[dict]:
    """AIR-Bench Chat (OFA-Sys/AIR-Bench, Inference_Chat.py; data qyang1021/AIR-Bench-Dataset): Chat/Chat_meta.json,
    a JSON list with meta_info, question, answer_gt, path, task_name, dataset_name, uniq_id; audio
    Chat/<task_name>_<dataset_name>/<path>. The sound or music tasks, as MATS evaluates them."""
    path = require(root, "Chat/Chat_meta.json", subset, "the AIR-Bench Chat items")
    tasks = AIRBENCH_SUBSETS[subset]
    records = []
    fields = ["meta_info", "question", "answer_gt", "path", "task_name", "dataset_name", "uniq_id"]
    for _, item in json_items(path, fields):
        if item["task_name"] not in tasks:
            continue
        audio = audio_path(f"Chat/{item['task_name']}_{item['dataset_name']}/{item['path']}", path, 0)
        records.append(record(audio, str(item["answer_gt"]), subset, str(item["question"]), id=str(item["uniq_id"]),
                              meta={k: item[k] for k in fields}))
    return records
