"""`make bench`: the regression check on its ratios and the file it keeps (the timings are read, not tested)."""
import json

from mats_lib.study.bench import regressions, write_bench
from mats_lib.study.efficiency import matmul_peak_tflops, training_flops_per_sample
from mats_lib.config import load_config


def test_a_ratio_that_got_worse_by_more_than_the_tolerance_is_flagged():
    before = {"batched / one-by-one generation": 4.0, "Santa share of inference": 0.01,
              "text / audio training throughput": 1.0}
    assert regressions(before, before) == []
    slower = {**before, "batched / one-by-one generation": 3.0}  # -25%
    (warning,) = regressions(slower, before)
    assert warning.startswith("batched / one-by-one generation: 4 -> 3 (-25%")
    assert regressions({**before, "batched / one-by-one generation": 3.3}, before) == []  # -17.5%: within
    assert len(regressions({**before, "Santa share of inference": 0.013}, before)) == 1  # lower is better
    assert regressions({**before, "text / audio training throughput": 0.1}, before) == []  # a finding, not a goal


def test_the_bench_file_keeps_the_previous_figures(tmp_path):
    path = tmp_path / "bench.json"
    assert write_bench({"ratios": {"batched / one-by-one generation": 4.0}}, path) == []
    warnings = write_bench({"ratios": {"batched / one-by-one generation": 2.0}}, path)
    saved = json.loads(path.read_text())
    assert saved["previous"]["ratios"] == {"batched / one-by-one generation": 4.0} and warnings == saved["warnings"]
    assert saved["provenance"]["git_revision"]


def test_flops_and_peak_are_measured(tmp_cache):
    flops = training_flops_per_sample(load_config("smoke"), batches=1)
    assert flops > 0
    assert matmul_peak_tflops(size=256, repeat=2) > 0
