"""What every benchmark reader shares: the release's prompts, record construction, CSV/JSON reading with line
numbers, and errors that name the file, the line and the problem."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

from ..data.records import RecordError, check_audio_id

# The release's test prompts (wangwen-banban/MATS, MATS-LLaMA/prompts/test_prompt.json at commit 45d6571); the
# dataset tag goes in front of them, as at training time.
CLASSIFY_PROMPT = "Identify the sounds in the audio clip, only display audio tags."
CAPTION_PROMPT = "Describe the following audio in a caption."
MUSIC_PROMPT = "Listen to this music clip and describe the music."


class BenchmarkLayoutError(FileNotFoundError):
    """A benchmark root that does not hold the files of the dataset's published layout."""


def require(root: Path, relative: str, benchmark: str, what: str) -> Path:
    """``root/relative``, or an error that says what to give ``--root``."""
    path = root / relative
    if not path.exists():
        raise BenchmarkLayoutError(f"{benchmark}: {path} not found. Give --root the folder of the dataset as "
                                   f"distributed, the one that holds {relative} ({what}).")
    return path


def first_present(root: Path, candidates: list[str]) -> str:
    """The first candidate file name on disk under ``root``, else the first one (then reported missing)."""
    return next((c for c in candidates if (root / c).is_file()), candidates[0])


def audio_path(audio_id: str, path: Path, line: int) -> str:
    """An audio path from a benchmark's metadata, refused (naming the file and line) if it leaves the root."""
    check_audio_id(audio_id, line, path)
    return audio_id


def record(audio_id: str, output: str, task: str, instruction: str, **extra) -> dict:
    """One evaluation record: ``audio_id`` relative to the benchmark root; extra fields (``references``,
    ``choices``, ``id``, ``meta``) ride along for multi-reference scoring and the official output formats."""
    return {"audio_id": audio_id, "output": output, "task": task, "instruction": instruction, **extra}


def csv_rows(path: Path, columns: list[str], *, header: bool = True, delimiter: str = ",",
             encoding: str = "utf-8") -> Iterator[tuple[int, dict]]:
    """(line number, row) of a CSV: with ``header`` the named columns must be present (extra ones are fine);
    without, each row must have exactly ``len(columns)`` fields. Blank lines are skipped."""
    try:
        handle = path.open(newline="", encoding=encoding)
    except OSError as error:
        raise RecordError(path, 0, f"cannot open ({error.strerror})") from None
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        names = columns
        try:
            if header:
                first = next(reader, None)
                if first is None:
                    raise RecordError(path, 1, "empty file")
                first = [c.strip().lstrip("\ufeff") for c in first]
                missing = [c for c in columns if c not in first]
                if missing:
                    raise RecordError(path, 1, f"missing column(s) {missing}; the header has {first}")
                names = first
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(names):
                    raise RecordError(path, line, f"{len(row)} fields, expected {len(names)} ({', '.join(names)})")
                yield line, dict(zip(names, (cell.strip() for cell in row)))
        except UnicodeDecodeError as error:
            raise RecordError(path, reader.line_num + 1, f"not {encoding} text ({error.reason})") from None
        except csv.Error as error:
            raise RecordError(path, reader.line_num, f"bad CSV ({error})") from None


def json_items(path: Path, fields: list[str], container: str | None = None) -> Iterator[tuple[int, dict]]:
    """(index, item) of a JSON list (or of ``data[container]``); each item must be an object with ``fields``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise RecordError(path, 0, f"not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise RecordError(path, error.lineno, f"bad JSON ({error.msg})") from None
    items = data.get(container) if container and isinstance(data, dict) else data
    if not isinstance(items, list):
        where = f"a list under {container!r}" if container else "a JSON list"
        raise RecordError(path, 1, f"expected {where}, got {type(items).__name__}")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise RecordError(path, 0, f"item {index}: expected an object, got {type(item).__name__}")
        missing = [f for f in fields if f not in item]
        if missing:
            raise RecordError(path, 0, f"item {index}: missing field(s) {missing}")
        yield index, item


def nonempty(value: str, path: Path, line: int, column: str) -> str:
    if not value:
        raise RecordError(path, line, f"empty {column!r}")
    return value
