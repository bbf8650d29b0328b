"""The typed config: every preset and notebook parameter set loads; bad keys and types are clear errors."""
import pytest

from mats_lib.config import EXPERIMENTS_DIR, ConfigError, load_config, resolve_path


@pytest.mark.parametrize("path", sorted(EXPERIMENTS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_experiment_file_loads(path):
    cfg = load_config(path)
    assert cfg.preset == path.stem
    assert cfg.train.batch_size > 0 and cfg.mapper.prefix_length > 0


def test_defaults_are_the_papers():
    cfg = load_config("paper")
    assert (cfg.mapper.prefix_length, cfg.mapper.num_layers, cfg.llm.lora_r, cfg.llm.lora_alpha) == (40, 8, 8, 32)
    assert (cfg.train.batch_size, cfg.train.grad_accum, cfg.train.lr, cfg.data.noise_variance) == (12, 4, 3e-5, 0.015)
    assert cfg.llm.lora_targets == ["q_proj", "v_proj"] and cfg.train.warmup_steps == 3000


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) train.learning_rate"):
        load_config("mini", {"train.learning_rate": 1e-4})
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) optimiser"):
        load_config("mini", {"optimiser.lr": 1e-4})


@pytest.mark.parametrize("key,value,message", [
    ("train.batch_size", "eight", "train.batch_size: expected int"),
    ("train.batch_size", 2.5, "train.batch_size: expected int"),
    ("data.modality", "video", "data.modality: 'video' is not one of"),
    ("llm.lora_targets", "q_proj", "llm.lora_targets: expected a list"),
    ("data.noise_variance", "loud", "data.noise_variance: 'loud' fits none"),
])
def test_wrong_types(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config("mini", {key: value})


def test_overrides_and_flat_view():
    cfg = load_config("mini", {"train.lr": "1e-4", "seed": 3})
    assert cfg.train.lr == 1e-4 and cfg.seed == 3
    assert cfg.flat()["train.lr"] == 1e-4 and cfg.flat()["seed"] == 3


def test_unset_and_missing_paths_say_what_to_provide(tmp_path):
    with pytest.raises(ConfigError, match="data.corpus is not set: give the path"):
        resolve_path(load_config("paper").data.corpus, "data.corpus")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_path(str(tmp_path / "AudioTIA-5M.json"), "data.corpus")


def test_report_path_names_build_paths_as_configs_do(tmp_path, monkeypatch):
    from mats_lib.paths import REPO_ROOT, project_path, report_path

    monkeypatch.setenv("MATS_BUILD_DIR", str(tmp_path / "b"))
    heads = tmp_path / "b" / "miniclap" / "heads-seed0.safetensors"
    assert report_path(heads) == "build/miniclap/heads-seed0.safetensors"  # the same in every clone
    assert project_path(report_path(heads)) == heads.resolve()
    assert report_path(tmp_path / "elsewhere.bin") == str(tmp_path / "elsewhere.bin")
    assert report_path(REPO_ROOT / "notebooks" / "train_mats.ipynb") == "notebooks/train_mats.ipynb"
