"""Data of the study: the MiniAudio benchmark, the AudioTIA-mini corpus, and loaders for the real datasets."""
from .records import LoadReport, RecordError, load_eval_records, load_train_records
from .sampling import SourceSampler, iterate_batches
from .tasks import Task, get_task, known_tasks, register_task

__all__ = ["LoadReport", "RecordError", "SourceSampler", "Task", "get_task", "iterate_batches",
           "known_tasks", "load_eval_records", "load_train_records", "register_task"]
