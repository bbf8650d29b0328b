"""The training-curve figure's data: per-step losses read from run folders (a resumed step's last line wins), the
condition each run's settings name, where each curve ends, and the answer counts its note quotes."""
import json

import matplotlib

matplotlib.use("Agg")

from mats_lib.study.loss_curves import answer_statistics, final_losses, loss_rows, plot_loss_overlays  # noqa: E402


def fake_run(folder, encoder, seed, modality, variance, losses):
    (folder / "final").mkdir(parents=True)
    settings = {"encoder": {"name": encoder}, "seed": seed, "data": {"modality": modality, "noise_variance": variance}}
    (folder / "final" / "key.json").write_text(json.dumps({"key": "k", "settings": settings}))
    lines = [{"step": s, "loss": l} for s, l in losses]
    (folder / "losses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def test_curves_are_read_per_step_and_named_by_condition(tmp_path):
    runs = [fake_run(tmp_path / "a", "tagclap", 0, "text", "auto", [(1, 5.0), (2, 4.0), (2, 3.0), (3, 2.0)]),
            fake_run(tmp_path / "b", "tagclap", 1, "text", "auto", [(1, 6.0), (2, 4.0), (3, 4.0)]),
            fake_run(tmp_path / "c", "tagclap", 0, "text", 0.0, [(1, 5.0), (2, 1.0), (3, 1.0)]),
            fake_run(tmp_path / "d", "miniclap", 0, "audio", "auto", [(1, 3.0), (2, 0.5), (3, 0.1)])]
    rows = loss_rows(runs)
    first = [(r["step"], r["loss"]) for r in rows if r["seed"] == 0 and r["condition"] == "text-only (noise)"]
    assert first == [(1, 5.0), (2, 3.0), (3, 2.0)]  # the resumed step 2: its last line
    ends = final_losses(rows, last=2)
    assert ends["tagclap"]["text-only (noise)"] == [2.5, 4.0] and ends["tagclap"]["text-only, no noise"] == [1.0]
    assert ends["miniclap"] == {"MATS-Audio (audio-supervised)": [0.3]}
    fig = plot_loss_overlays(rows)
    assert [ax.get_title() for ax in fig.axes] == ["miniclap (1 seed each)", "tagclap (1-2 seeds per condition)"]
    assert fig.legends and {t.get_text() for t in fig.legends[0].get_texts()} >= {"text-only (noise)"}


def test_answer_statistics_count_what_a_loss_falls_on(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"output": o}) + "\n" for o in ["dog", "dog", "a cat meows"]))
    assert answer_statistics([path]) == {"records": 3, "distinct_answers": 2, "mean_answer_words": 1.67}
