"""Tiny copies of each paper benchmark in its published layout (rows shaped as the sources cited by the readers in
mats_lib/benchmarks), over given audio files: ``LAYOUTS[name](root, clips)`` writes two or three items."""
import json
import shutil
from pathlib import Path


def _put(clip: Path, root: Path, rel: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, root / rel)


def _write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def esc50(root, clips):
    _write(root, "meta/esc50.csv", "filename,fold,target,category,esc10,src_file,take\n"
           "1-1-A-0.wav,1,0,dog,True,1,A\n1-2-A-1.wav,1,1,rooster,True,2,A\n")
    _put(clips[0], root, "audio/1-1-A-0.wav"), _put(clips[1], root, "audio/1-2-A-1.wav")


def us8k(root, clips):
    _write(root, "metadata/UrbanSound8K.csv", "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
           "100032-3-0-0.wav,100032,0.0,0.3,1,5,3,dog_bark\n100648-1-0-0.wav,100648,4.8,5.4,2,10,1,car_horn\n")
    _put(clips[0], root, "audio/fold5/100032-3-0-0.wav"), _put(clips[1], root, "audio/fold10/100648-1-0-0.wav")


def dcase17(root, clips):
    _write(root, "groundtruth_release/groundtruth_weak_label_evaluation_set.csv",
           "a_0.000_10.000.wav\t0.000\t10.000\tTrain horn\na_0.000_10.000.wav\t0.000\t10.000\tCar\n"
           "b_30.000_40.000.wav\t30.000\t40.000\tBus\n")
    _put(clips[0], root, "evaluation_set_formatted_audio_segments/Ya_0.000_10.000.wav")
    _put(clips[1], root, "evaluation_set_formatted_audio_segments/Yb_30.000_40.000.wav")


def vggsound(root, clips):
    _write(root, "vggsound.csv", "aaa,1,people marching,test\nbbb,30,waterfall burbling,test\nccc,0,dog barking,train\n")
    _put(clips[0], root, "aaa_000001.wav"), _put(clips[1], root, "bbb_000030.wav")


def fsd50k(root, clips):
    _write(root, "FSD50K.ground_truth/eval.csv", 'fname,labels,mids\n1,"Dog,Animal","/m/a,/m/b"\n2,Music,/m/c\n')
    _put(clips[0], root, "FSD50K.eval_audio/1.wav"), _put(clips[1], root, "FSD50K.eval_audio/2.wav")


def tut(root, clips):
    _write(root, "meta.txt", "audio/1.wav\tbeach\naudio/2.wav\tcity_center\n")
    _put(clips[0], root, "audio/1.wav"), _put(clips[1], root, "audio/2.wav")


def gtzan(root, clips):
    _put(clips[0], root, "genres/blues/blues.00000.wav"), _put(clips[1], root, "genres/jazz/jazz.00001.wav")


def beijing_opera(root, clips):
    _put(clips[0], root, "1__ajaysm__daluo-1.wav"), _put(clips[1], root, "2__ajaysm__naobo-2.wav")


def vocalsound(root, clips):
    _write(root, "class_labels_indices_vs.csv", "index,mid,display_name\n0,/m/01j3sz,Laughter\n2,/m/01b_21,Cough\n")
    _write(root, "datafiles/te.json", json.dumps({"data": [{"wav": "x/f0003_0_cough.wav", "labels": "/m/01b_21"},
                                                           {"wav": "x/m0004_1_laughter.wav", "labels": "/m/01j3sz"}]}))
    _put(clips[0], root, "audio_16k/f0003_0_cough.wav"), _put(clips[1], root, "audio_16k/m0004_1_laughter.wav")


def audiocaps(root, clips):
    _write(root, "test.csv", "audiocap_id,youtube_id,start_time,caption\n1,yt1,20,a dog barks\n2,yt2,30,rain falls\n"
           "3,yt1,20,a dog is barking\n")
    _put(clips[0], root, "test/yt1.wav"), _put(clips[1], root, "test/yt2.wav")


def clotho(root, clips):
    _write(root, "clotho_captions_evaluation.csv", "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
           "one clip.wav,a dog barks,a dog is barking,dogs bark,a dog barks twice,barking\n"
           "two.wav,rain falls,rain on a roof,heavy rain,rain pours,it rains\n")
    _put(clips[0], root, "evaluation/one clip.wav"), _put(clips[1], root, "evaluation/two.wav")


def musiccaps(root, clips):
    _write(root, "musiccaps-public.csv", "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,"
           "is_balanced_subset,is_audioset_eval\nm1,30,40,/m/a,\"['sad']\",A sad ballad.,4,False,True\n"
           "m2,0,10,/m/b,\"['fast']\",A fast song.,1,False,True\n")
    _put(clips[0], root, "m1.wav"), _put(clips[1], root, "m2.wav")


def clotho_aqa(root, clips):
    _write(root, "clotho_aqa_test.csv", "file_name,QuestionText,answer,confidence\n"
           "a.wav,Is it raining?,yes,yes\na.wav,Is it raining?,yes,yes\na.wav,Is it raining?,no,maybe\n"
           "b.wav,What animal is heard?,dog,yes\nb.wav,What animal is heard?,dog,yes\nb.wav,What animal is heard?,cat,no\n")
    _put(clips[0], root, "audio_files/a.wav"), _put(clips[1], root, "audio_files/b.wav")


def mmau(root, clips):
    items = [{"id": f"q{k}", "audio_id": f"./test-mini-audios/q{k}.wav", "question": "Which source is heard?",
              "choices": ["Man", "Woman", "Dog", "Rain"], "answer": answer, "dataset": "AudioSet", "task": "sound",
              "split": "test-mini", "category": "Reasoning", "sub-category": "Source", "difficulty": "easy"}
             for k, answer in enumerate(["Dog", "Rain"])]
    _write(root, "mmau-test-mini.json", json.dumps(items))
    _put(clips[0], root, "test-mini-audios/q0.wav"), _put(clips[1], root, "test-mini-audios/q1.wav")


def _airbench(root, clips, task, dataset):
    items = [{"meta_info": "x", "question": q, "answer_gt": a, "path": f"{k}.wav", "task_name": task,
              "dataset_name": dataset, "uniq_id": k} for k, (q, a) in enumerate([("What is heard?", "A dog."),
                                                                                 ("Is it loud?", "Yes")])]
    _write(root, "Chat/Chat_meta.json", json.dumps(items))
    _put(clips[0], root, f"Chat/{task}_{dataset}/0.wav"), _put(clips[1], root, f"Chat/{task}_{dataset}/1.wav")


def airbench_sound(root, clips):
    _airbench(root, clips, "sound_QA", "clotho")


def airbench_music(root, clips):
    _airbench(root, clips, "music_QA", "musiccaps")


LAYOUTS = {f.__name__: f for f in (esc50, us8k, dcase17, vggsound, fsd50k, tut, gtzan, beijing_opera, vocalsound,
                                   audiocaps, clotho, musiccaps, clotho_aqa, mmau, airbench_sound, airbench_music)}
