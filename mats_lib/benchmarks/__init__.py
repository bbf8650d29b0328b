"""The paper's benchmarks, read from the files each dataset ships (paper scale; see docs/paper_scale.md)."""
from .registry import BENCHMARKS, Benchmark, MissingAudioError, evaluation_overrides, get_benchmark, prepare

__all__ = ["BENCHMARKS", "Benchmark", "MissingAudioError", "evaluation_overrides", "get_benchmark", "prepare"]
