"""Reading and validating records: AudioTIA-style training texts and benchmark eval lists.

Both the mini files and the real ones (AudioTIA-5M JSON, benchmark JSON/JSONL, ESC-50's CSV) load here.
A malformed record raises :class:`RecordError` naming the file and line; ``on_error="skip"`` drops it
instead and counts it in the returned :class:`LoadReport`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

from .tasks import get_task

OnError = Literal["raise", "skip"]
# No record of ours comes near this; a longer line is a damaged or hostile file, not data to parse.
MAX_LINE_BYTES = 1 << 20
TRAIN_FIELDS = {"caption": True, "output": True, "task": True, "instruction": False}
EVAL_FIELDS = {"audio_id": True, "output": True, "task": True, "instruction": False}
# Optional lists of an eval record: every reference caption / acceptable label, and a question's choices.
EVAL_LISTS = ("references", "choices")


class RecordError(ValueError):
    def __init__(self, path: Path | str, line: int, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        super().__init__(f"{path}:{line}: {problem}")


@dataclass
class LoadReport:
    path: str
    loaded: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip_or_raise(self, error: RecordError, on_error: OnError) -> None:
        """Raise the error, or count it and go on (``on_error="skip"``)."""
        if on_error == "raise":
            raise error
        self.skipped += 1
        self.problems.append(str(error))


def _iter_json_items(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, item) for a JSONL file, or for the elements of a top-level JSON array."""
    text = _read_utf8(path)
    stripped = text.lstrip()
    if path.suffix == ".jsonl" or not stripped.startswith("["):
        for number, line in enumerate(text.splitlines(), 1):
            if len(line) > MAX_LINE_BYTES:
                yield number, RecordError(path, number, f"line of {len(line):,} characters, over the "
                                                        f"{MAX_LINE_BYTES:,} a record may take")
            elif line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as error:
                    yield number, RecordError(path, number, f"bad JSON ({error.msg})")
        return
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            yield text.count("\n", 0, pos) + 1, RecordError(path, text.count("\n") + 1, "bad JSON (unterminated array)")
            return
        if text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            yield line, RecordError(path, error.lineno, f"bad JSON ({error.msg})")
            return
        yield line, item


def _read_utf8(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise RecordError(path, line, f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None


def check_audio_id(audio_id: str, line: int, path: Path) -> None:
    """An audio id names a file inside the data root: relative, and never climbing out of it with '..'."""
    parts = Path(audio_id).parts
    if Path(audio_id).is_absolute() or audio_id.startswith("~") or ".." in parts:
        raise RecordError(path, line, f"audio_id must be a path inside the data root, got {audio_id!r}")


def _check(item, line: int, path: Path, fields: dict[str, bool], data_root: Path | None) -> dict:
    if isinstance(item, RecordError):
        raise item
    if not isinstance(item, dict):
        raise RecordError(path, line, f"a record must be a JSON object, got {type(item).__name__}")
    for name, required in fields.items():
        value = item.get(name)
        if value is None:
            if required:
                raise RecordError(path, line, f"missing field {name!r}")
            continue
        if not isinstance(value, str):
            raise RecordError(path, line, f"field {name!r} must be a string, got {type(value).__name__}")
        if required and name != "output" and not value.strip():
            raise RecordError(path, line, f"field {name!r} is empty")
    try:
        get_task(item["task"])
    except KeyError as error:
        raise RecordError(path, line, error.args[0]) from None
    if "audio_id" in fields:
        check_audio_id(item["audio_id"], line, path)
    if "audio_id" in fields and data_root is not None and not (data_root / item["audio_id"]).is_file():
        raise RecordError(path, line, f"audio file not found: {data_root / item['audio_id']}")
    out = {name: item[name] for name in fields if item.get(name) is not None}
    if "audio_id" in fields:
        for name in EVAL_LISTS:
            value = item.get(name)
            if value is None:
                continue
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
                raise RecordError(path, line, f"field {name!r} must be a non-empty list of non-empty strings")
            out[name] = value
    return out


def _load(path, fields, data_root, on_error) -> tuple[list[dict], LoadReport]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"record file not found: {path}")
    report, records = LoadReport(str(path)), []
    for line, item in _iter_json_items(path):
        try:
            records.append(_check(item, line, path, fields, data_root))
        except RecordError as error:
            report.skip_or_raise(error, on_error)
    report.loaded = len(records)
    return records, report


def load_train_records(path: str | Path, on_error: OnError = "raise") -> tuple[list[dict], LoadReport]:
    """Text-only training records (AudioTIA-5M / AudioTIA-mini): caption, output, task, instruction."""
    return _load(path, TRAIN_FIELDS, None, on_error)


def load_eval_records(path: str | Path, data_root: str | Path, on_error: OnError = "raise") -> tuple[list[dict], LoadReport]:
    """Benchmark records: audio_id (relative to ``data_root``, must exist), output, task, instruction."""
    return _load(path, EVAL_FIELDS, Path(data_root), on_error)
