"""mats_lib: a thin library for reproducing MATS (audio language modelling under text-only supervision).

Module map (``tests/test_layout.py`` checks that it names every module and no other):

The library
    config          the one typed config (presets in experiments/), overrides, validation
    model           the mapper, the LoRA-adapted LLM, the MATS model and its loss
    noise           Gaussian noise on unit embeddings; its calibration to the modality gap
    santa           Santa and the other modality transfers, as tensor functions
    batches         what a training step consumes: records by source, prompt batches, optimizer, schedule
    training        the training loop (one process or DDP); only cli.train and study.ensure_run call it
    runs            run names, keys, saving, finding and loading checkpoints (load_run)
    inference       batched generation from embeddings
    evaluation      the evaluation runner: keyed parts per run, transfer, task and seed
    modality_offset the mean text-minus-audio offset (the mean_shift transfer)
    prompts         the texts embedded about a label (label caption, zero-shot prompt), one place each
    baselines       constant answer, question-only prior, constant caption
    metrics         classification, QA and caption metrics
    encoder_metrics zero-shot accuracy and retrieval recall of an encoder (not Santa's memory retrieval)
    stats           paired intervals under the crossed seed x item bootstrap; Holm
    audio           audio loading: any rate, any channels, checked
    seed            one seed to every random source
    encoders/       the CLAP role: tagclap, miniclap (its heads, pairs and gate), the paper's CLAPs, the cache
    data/           MiniAudio and AudioTIA-mini: building, records, sources (corpus, audio records), tasks, sampling
    benchmarks/     the paper's benchmarks read from their published layouts
    tracking        MLflow (the only module that imports it)
Keys, paths and plumbing
    code_keys       code keyed by definition (syntax trees), not by file
    provenance      settings keys, file hashes, the commit, atomic writes
    paths           where build/, reports/ and caches live
    checkpoints     safe loading of weight files
    assets          the real models and audio installed from packages
    steps           pipeline steps skipped while their inputs and outputs are unchanged
    check           the pre-flight check of a preset's paths and shapes
The study
    analysis/       pure functions from results to tables and their Markdown
    study/          what notebooks share (notebook_config, ensure_run, write_report, save_figure) and what they
                    compute: conditions evaluated, sweeps, bound points, gap views, geometry, C8's timings,
                    MiniCLAP's report and gate frontier
    cli/            the command-line entry points, thin (no argparse anywhere else)
    train, evaluate shims: ``python -m mats_lib.train`` / ``mats_lib.evaluate`` hand over to cli/
"""
__version__ = "0.1.0"
