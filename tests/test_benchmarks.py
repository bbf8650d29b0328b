"""Benchmark readers on tiny copies of each dataset's published layout (rows taken from the sources each reader
cites), the prepared data root, and the official scorers' input formats."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mats_lib.benchmarks import BENCHMARKS, prepare
from mats_lib.benchmarks.common import BenchmarkLayoutError
from mats_lib.benchmarks.outputs import AIRBENCH_KEYS, write_airbench, write_mmau
from mats_lib.data.records import RecordError, load_eval_records


def wav(root: Path, rel: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(1600, np.float32), 16000)


def text(root: Path, rel: str, content: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def read(name, root):
    return BENCHMARKS[name].read(root)


def test_every_paper_benchmark_has_a_reader():
    assert sorted(BENCHMARKS) == sorted(["esc50", "us8k", "dcase17", "vggsound", "fsd50k", "tut", "gtzan", "beijing_opera",
                                         "vocalsound", "audiocaps", "clotho", "musiccaps", "clotho_aqa", "mmau",
                                         "airbench_sound", "airbench_music"])


def test_esc50(tmp_path):
    # karolpiczak/ESC-50 meta/esc50.csv (header and rows as in the repository)
    text(tmp_path, "meta/esc50.csv", "filename,fold,target,category,esc10,src_file,take\n"
         "1-100032-A-0.wav,1,0,dog,True,100032,A\n1-100038-A-14.wav,1,14,chirping_birds,False,100038,A\n"
         "1-100210-A-36.wav,1,36,vacuum_cleaner,False,100210,A\n")
    wav(tmp_path, "audio/1-100032-A-0.wav")
    wav(tmp_path, "audio/1-100038-A-14.wav")
    records, missing = read("esc50", tmp_path)
    assert [r["output"] for r in records] == ["dog", "chirping birds"] and missing == ["audio/1-100210-A-36.wav"]
    assert records[0]["task"] == "esc50" and "only display audio tags" in records[0]["instruction"]
    text(tmp_path, "meta/esc50.csv", "filename,fold,target,category\n1-100032-A-0.wav,9,0,dog\n")
    with pytest.raises(RecordError, match=r"esc50.csv:2: fold must be 1-5"):
        read("esc50", tmp_path)
    text(tmp_path, "meta/esc50.csv", "filename,target\n1-100032-A-0.wav,0\n")
    with pytest.raises(RecordError, match=r"esc50.csv:1: missing column\(s\) \['fold', 'category'\]"):
        read("esc50", tmp_path)


def test_a_root_without_the_layout_says_what_to_give(tmp_path):
    with pytest.raises(BenchmarkLayoutError, match=r"meta/esc50.csv not found\. Give --root the folder"):
        read("esc50", tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        prepare("esc50", tmp_path / "nowhere", tmp_path / "out")


def test_us8k(tmp_path):
    # urbansounddataset.weebly.com: metadata/UrbanSound8K.csv
    text(tmp_path, "metadata/UrbanSound8K.csv", "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
         "100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark\n100648-1-0-0.wav,100648,4.823402,5.471927,2,10,1,car_horn\n")
    wav(tmp_path, "audio/fold5/100032-3-0-0.wav")
    wav(tmp_path, "audio/fold10/100648-1-0-0.wav")
    records, missing = read("us8k", tmp_path)
    assert [(r["audio_id"], r["output"]) for r in records] == [("audio/fold5/100032-3-0-0.wav", "dog bark"),
                                                               ("audio/fold10/100648-1-0-0.wav", "car horn")]
    text(tmp_path, "metadata/UrbanSound8K.csv", "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
         "100032-3-0-0.wav,100032,0.0\n")
    with pytest.raises(RecordError, match=r"UrbanSound8K.csv:2: 3 fields, expected 8"):
        read("us8k", tmp_path)


def test_dcase17_groups_the_labels_of_a_clip(tmp_path):
    # groundtruth_weak_label_evaluation_set.csv of the DCASE 2017 task 4 repository: tab-separated, no header
    text(tmp_path, "groundtruth_release/groundtruth_weak_label_evaluation_set.csv",
         "-JMT0mK0Dbg_30.000_40.000.wav\t30.000\t40.000\tTrain horn\n"
         "ePVb5Upev8k_40.000_50.000.wav\t40.000\t50.000\tTrain horn\n"
         "ePVb5Upev8k_40.000_50.000.wav\t40.000\t50.000\tAir horn, truck horn\n")
    wav(tmp_path, "evaluation_set_formatted_audio_segments/Y-JMT0mK0Dbg_30.000_40.000.wav")
    wav(tmp_path, "evaluation_set_formatted_audio_segments/YePVb5Upev8k_40.000_50.000.wav")
    records, missing = read("dcase17", tmp_path)
    assert not missing and len(records) == 2
    assert records[1]["references"] == ["Train horn", "Air horn, truck horn"]


def test_vggsound_takes_the_test_rows(tmp_path):
    # hche11/VGGSound vggsound.csv: no header; a label with a comma is quoted
    text(tmp_path, "vggsound.csv", "---g-f_I2yQ,1,people marching,test\n--0PQM4-hqg,30,waterfall burbling,train\n"
         '--9O4XZOge4,30,"female speech, woman speaking",test\n')
    wav(tmp_path, "---g-f_I2yQ_000001.wav")
    records, missing = read("vggsound", tmp_path)
    assert [r["output"] for r in records] == ["people marching"] and missing == ["--9O4XZOge4_000030.wav"]
    text(tmp_path, "vggsound.csv", "---g-f_I2yQ,1,people marching,dev\n")
    with pytest.raises(RecordError, match="vggsound.csv:1: split must be train or test"):
        read("vggsound", tmp_path)


def test_fsd50k_is_multilabel(tmp_path):
    # soundata's FSD50K test resources: FSD50K.ground_truth/eval.csv
    text(tmp_path, "FSD50K.ground_truth/eval.csv", 'fname,labels,mids\n37199,"Electric_guitar,Guitar,Music",'
         '"/m/02sgy,/m/0342h,/m/04rlf"\n')
    wav(tmp_path, "FSD50K.eval_audio/37199.wav")
    (r,), _ = read("fsd50k", tmp_path)
    assert r["output"] == "Electric guitar, Guitar, Music" and r["references"] == ["Electric guitar", "Guitar", "Music"]


def test_tut(tmp_path):
    # dcase_util's TUT Acoustic Scenes 2017 evaluation set: meta.txt, tab-separated, no header
    text(tmp_path, "meta.txt", "audio/1.wav\tcafe/restaurant\naudio/2.wav\tcity_center\n")
    wav(tmp_path, "audio/1.wav")
    wav(tmp_path, "audio/2.wav")
    records, _ = read("tut", tmp_path)
    assert [r["output"] for r in records] == ["cafe/restaurant", "city center"] and records[0]["task"] == "tut"
    text(tmp_path, "meta.txt", "../escape.wav\tbus\n")
    with pytest.raises(RecordError, match=r"meta.txt:1: audio_id must be a path inside the data root, got '../escape.wav'"):
        read("tut", tmp_path)


def test_gtzan_all_clips_or_the_filtered_split(tmp_path):
    # soundata's gtzan_genre index: genres/<genre>/<genre>.000NN.wav
    for rel in ("blues/blues.00029.wav", "hiphop/hiphop.00001.wav"):
        wav(tmp_path, f"genres/{rel}")
    records, _ = read("gtzan", tmp_path)
    assert sorted(r["output"] for r in records) == ["blues", "hip hop"]
    text(tmp_path, "test_filtered.txt", "blues/blues.00029.wav\n")  # coreyker/dnn-mgr's split format
    assert [r["output"] for r in read("gtzan", tmp_path)[0]] == ["blues"]


def test_beijing_opera_names_the_instrument_in_the_file_name(tmp_path):
    wav(tmp_path, "205972__ajaysm__daluo-1.wav")
    wav(tmp_path, "205974__ajaysm__xiaoluo-2.wav")
    assert sorted(r["output"] for r in read("beijing_opera", tmp_path)[0]) == ["daluo", "xiaoluo"]
    wav(tmp_path, "205975__ajaysm__mystery.wav")
    with pytest.raises(RecordError, match="names no instrument"):
        read("beijing_opera", tmp_path)


def test_vocalsound(tmp_path):
    # YuanGongND/vocalsound: datafiles/te.json and class_labels_indices_vs.csv
    text(tmp_path, "class_labels_indices_vs.csv", "index,mid,display_name\n0,/m/01j3sz,Laughter\n2,/m/01b_21,Cough\n")
    text(tmp_path, "datafiles/te.json", json.dumps({"data": [{"wav": "/x/audio_16k/f0003_0_cough.wav", "labels": "/m/01b_21"}]}))
    wav(tmp_path, "audio_16k/f0003_0_cough.wav")
    (r,), _ = read("vocalsound", tmp_path)
    assert r["audio_id"] == "audio_16k/f0003_0_cough.wav" and r["output"] == "cough"
    text(tmp_path, "datafiles/te.json", json.dumps({"data": [{"wav": "a.wav", "labels": "/m/nope"}]}))
    with pytest.raises(RecordError, match="not in class_labels_indices_vs.csv"):
        read("vocalsound", tmp_path)


def test_audiocaps_groups_five_captions_per_clip(tmp_path):
    # cdjkim/audiocaps dataset2.0/test.csv rows; one clip's captions are not contiguous
    text(tmp_path, "test.csv", "audiocap_id,youtube_id,start_time,caption\n103549,7fmOlUlwoNg,20,constant rattling noise\n"
         '103542,VjSEIRnLAh8,30,"food is frying, and a woman talks"\n103540,7fmOlUlwoNg,20,a machine rattles\n')
    wav(tmp_path, "test/7fmOlUlwoNg.wav")
    wav(tmp_path, "test/103542.wav")  # a downloader that names files by audiocap_id
    records, missing = read("audiocaps", tmp_path)
    assert not missing
    assert records[0]["references"] == ["a machine rattles", "constant rattling noise"]  # by audiocap_id
    assert records[1]["audio_id"] == "test/103542.wav"


def test_clotho_five_references(tmp_path):
    caps = ["A machine whines.", "Clippers trim bushes.", "Someone trims.", "A pump whirs.", '"While punching, it squeals."']
    text(tmp_path, "clotho_captions_evaluation.csv",
         "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\nSanta Motor.wav," + ",".join(caps) + "\n")
    wav(tmp_path, "evaluation/Santa Motor.wav")
    (r,), _ = read("clotho", tmp_path)
    assert r["audio_id"] == "evaluation/Santa Motor.wav" and len(r["references"]) == 5
    assert r["references"][4] == "While punching, it squeals."


def test_musiccaps_audioset_eval_clips(tmp_path):
    header = "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,is_audioset_eval\n"
    text(tmp_path, "musiccaps-public.csv", header +
         "-0Gj8-vB1q4,30,40,\"/m/0140xf,/m/04rlf\",\"['low quality', 'sad']\",A sad ballad.,4,False,True\n"
         "-0SdAVK79lg,30,40,/m/0155w,\"['guitar']\",A guitar plays.,0,False,False\n")
    wav(tmp_path, "-0Gj8-vB1q4.wav")
    records, missing = read("musiccaps", tmp_path)
    assert [r["output"] for r in records] == ["A sad ballad."] and not missing
    assert records[0]["instruction"] == "Listen to this music clip and describe the music."


def test_clotho_aqa_majority_answer(tmp_path):
    text(tmp_path, "clotho_aqa_test.csv", "file_name,QuestionText,answer,confidence\n"
         "a.wav,Is it raining?,yes,yes\na.wav,Is it raining?,no,maybe\na.wav,Is it raining?,yes,yes\n")
    wav(tmp_path, "audio_files/a.wav")
    (r,), _ = read("clotho_aqa", tmp_path)
    assert r["output"] == "yes" and r["instruction"] == "Is it raining?" and r["references"] == ["yes", "no", "yes"]


MMAU_ITEM = {"id": "3fe64f3d", "audio_id": "./test-mini-audios/3fe64f3d.wav",
             "question": "Based on the given audio, identify the source of the speaking voice.",
             "choices": ["Man", "Woman", "Child", "Robot"], "answer": "Man", "dataset": "AudioSet", "task": "sound",
             "split": "test-mini", "category": "Reasoning", "sub-category": "Acoustic Source Inference",
             "difficulty": "medium"}  # Sakshi113/MMAU mmau-test-mini.json


def test_mmau_and_its_official_output_format(tmp_path):
    text(tmp_path, "mmau-test-mini.json", json.dumps([MMAU_ITEM]))
    wav(tmp_path, "test-mini-audios/3fe64f3d.wav")
    records, _ = read("mmau", tmp_path)
    assert records[0]["choices"] == ["Man", "Woman", "Child", "Robot"] and "(B) Woman" in records[0]["instruction"]
    out = write_mmau(records, [{"audio_id": records[0]["audio_id"], "prediction": "Man"}], tmp_path / "pred.json")
    (item,) = json.loads(out.read_text())
    assert item["model_prediction"] == item["model_output"] == "Man" and item["id"] == "3fe64f3d"
    with pytest.raises(ValueError, match="1 records"):
        write_mmau(records, [], tmp_path / "pred.json")


def test_airbench_chat_subsets_and_official_output_format(tmp_path):
    items = [{"meta_info": "['Running water']", "question": "What follows?", "answer_gt": "Flush.", "path": "evaluation_567.wav",
              "task_name": "sound_QA", "dataset_name": "clotho", "uniq_id": 1199},
             {"meta_info": "x", "question": "Percussive?", "answer_gt": "Yes", "path": "P97w3AdePgQ.wav",
              "task_name": "music_QA", "dataset_name": "musiccaps", "uniq_id": 1544}]
    text(tmp_path, "Chat/Chat_meta.json", json.dumps(items))  # OFA-Sys/AIR-Bench, Inference_Chat.py fields
    wav(tmp_path, "Chat/sound_QA_clotho/evaluation_567.wav")
    wav(tmp_path, "Chat/music_QA_musiccaps/P97w3AdePgQ.wav")
    sound, _ = read("airbench_sound", tmp_path)
    music, _ = read("airbench_music", tmp_path)
    assert [r["output"] for r in sound] == ["Flush."] and [r["output"] for r in music] == ["Yes"]
    out = write_airbench(sound, [{"audio_id": sound[0]["audio_id"], "prediction": "Wash hands."}], tmp_path / "r.jsonl")
    row = json.loads(out.read_text())
    assert list(row) == list(AIRBENCH_KEYS) and row["response"] == "Wash hands." and row["uniq_id"] == 1199


def test_prepare_writes_a_data_root_the_runner_reads(tmp_path):
    text(tmp_path / "ESC", "meta/esc50.csv", "filename,fold,target,category\n1-1-A-0.wav,1,0,dog\n1-2-A-1.wav,2,1,rooster\n")
    wav(tmp_path / "ESC", "audio/1-1-A-0.wav")
    wav(tmp_path / "ESC", "audio/1-2-A-1.wav")
    out = prepare("esc50", tmp_path / "ESC", tmp_path / "prepared")
    records, report = load_eval_records(out / "eval" / "esc50.jsonl", out)
    assert report.skipped == 0 and [r["audio_id"] for r in records] == ["data/audio/1-1-A-0.wav", "data/audio/1-2-A-1.wav"]
    assert json.loads((out / "labels.json").read_text()) == {"esc50": {"labels": ["dog", "rooster"]}}
    info = json.loads((out / "prepared.json").read_text())
    assert info["records"] == 2 and info["missing"] == 0
    assert prepare("esc50", tmp_path / "ESC", tmp_path / "prepared") == out  # again: same link, same files


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_each_layout_is_read_and_prepared(tmp_path, name):
    from tests.benchmark_layouts import LAYOUTS

    wav(tmp_path, "a.wav")
    wav(tmp_path, "b.wav")
    LAYOUTS[name](tmp_path / "root", [tmp_path / "a.wav", tmp_path / "b.wav"])
    records, missing = BENCHMARKS[name].read(tmp_path / "root")
    assert len(records) == 2 and not missing
    assert all(r["task"] == BENCHMARKS[name].task and r["instruction"] for r in records)
    out = prepare(name, tmp_path / "root", tmp_path / "prepared")
    assert len(load_eval_records(out / "eval" / f"{BENCHMARKS[name].task}.jsonl", out)[0]) == 2


def test_missing_audio_is_refused_unless_allowed(tmp_path):
    from mats_lib.benchmarks import MissingAudioError
    from tests.benchmark_layouts import LAYOUTS

    wav(tmp_path, "a.wav")
    LAYOUTS["us8k"](tmp_path / "root", [tmp_path / "a.wav", tmp_path / "a.wav"])
    (tmp_path / "root" / "audio" / "fold10" / "100648-1-0-0.wav").unlink()
    with pytest.raises(MissingAudioError, match=r"us8k: 1 clip\(s\) .* \(first: .*fold10/100648-1-0-0.wav\); pass --allow-missing"):
        prepare("us8k", tmp_path / "root", tmp_path / "prepared")
    out = prepare("us8k", tmp_path / "root", tmp_path / "prepared", allow_missing=True)
    assert (out / "missing.txt").read_text() == "audio/fold10/100648-1-0-0.wav\n"
