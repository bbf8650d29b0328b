"""Dataset tags: each benchmark's tag is the one the authors' release evaluates it with.

The table is read off wangwen-banban/MATS (GitHub), MATS-LLaMA/configs/eval/decode_<name>.yaml at commit 45d6571,
the `special_token` of each file.
"""
import pytest

from mats_lib.data.tasks import get_task

RELEASE_EVAL_TAGS = {  # our task: (the release's config, its special_token)
    "esc50": ("decode_esc50.yaml", "[single event]"),
    "us8k": ("decode_urban.yaml", "[single event]"),
    "dcase17": ("decode_dcase17.yaml", "[single event]"),
    "vggsound": ("decode_vggsound.yaml", "[single event]"),
    "fsd50k": ("decode_fsd50k.yaml", "[multi events]"),
    "tut": ("decode_tut.yaml", "[scene event]"),
    "gtzan": ("decode_genres.yaml", "[music genres]"),
    "beijing_opera": ("decode_bjo.yaml", "[instruction event]"),
    "vocalsound": ("decode_vocalsound.yaml", "[vocal event]"),
    "sesa": ("decode_sesa.yaml", "[surveillance event]"),
    "ravdess": ("decode_ravdess.yaml", "[emotion event]"),
    "audiocaps": ("decode_audiocap.yaml", "[audio caption audiocaps]"),
    "clotho": ("decode_clothov2.yaml", "[audio caption clotho]"),
    "musiccaps": ("decode_musiccap.yaml", "[music caption]"),
    "clotho_aqa": ("decode_clothoaqa.yaml", "[audio qa]"),
    "openaqa": ("decode_open.yaml", "[open ended]"),
}


@pytest.mark.parametrize("task,release", RELEASE_EVAL_TAGS.items(), ids=list(RELEASE_EVAL_TAGS))
def test_tags_match_the_release(task, release):
    config, tag = release
    assert get_task(task).tag == tag, f"{task}: the release's {config} evaluates it with {tag}"


def test_emotion_corpora_share_the_release_emotion_tag():
    assert get_task("cremad").tag == get_task("ravdess").tag == "[emotion event]"
