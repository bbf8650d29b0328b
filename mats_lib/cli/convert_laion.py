"""Convert an original LAION-CLAP checkpoint to a Hugging Face ClapModel folder (config.json + model.safetensors).

    python -m mats_lib.cli.convert_laion /ckpt/630k-audioset-best.pt /ckpt/laion-clap-hf [--tokenizer /tok/roberta-base]

The folder then serves as ``encoder.checkpoint`` of the ``laion`` encoder (which also reads the .pt directly).
With --tokenizer, the checked RoBERTa tokenizer is saved into the folder, which then needs no ``encoder.tokenizer``.
The file is read with weights_only=True (no pickled code runs); conversion is strict (mats_lib.encoders.laion_convert).
Exit codes: 0 written, 2 bad input (the message names the file, the key or the width).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..encoders.checkpoint_files import CheckpointError, read_state_dict
from ..encoders.text_tokenizer import TokenizerError, check_tokenizer, load_text_tokenizer


def convert(checkpoint: Path, out: Path, tokenizer: Path | None = None) -> Path:
    """Write the ClapModel folder of ``checkpoint`` to ``out`` (and the tokenizer, when given); returns ``out``."""
    from ..encoders.laion_convert import IGNORED, clap_model_from_state_dict

    if not checkpoint.is_file():
        raise CheckpointError(f"laion checkpoint not found: {checkpoint} (give the original .pt file)")
    model = clap_model_from_state_dict(read_state_dict(checkpoint))
    tok = None
    if tokenizer is not None:
        tok = load_text_tokenizer(tokenizer, "laion")
        check_tokenizer(tok, tokenizer, embedding_rows=model.config.text_config.vocab_size)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))  # safetensors
    if tok is not None:
        tok.save_pretrained(str(out))
    note = {"converted_from": checkpoint.name, "bytes": checkpoint.stat().st_size, "by": "mats_lib.cli.convert_laion",
            "ignored_original_keys": sorted(IGNORED)}
    (out / "conversion.json").write_text(json.dumps(note, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="the original LAION-CLAP .pt (unfused)")
    parser.add_argument("out", type=Path, help="folder to write (config.json, model.safetensors)")
    parser.add_argument("--tokenizer", type=Path, help="RoBERTa tokenizer folder to save alongside")
    parser.add_argument("--force", action="store_true", help="write into an existing non-empty folder")
    args = parser.parse_args(argv)
    if args.out.exists() and (not args.out.is_dir() or (any(args.out.iterdir()) and not args.force)):
        print(f"convert_laion: {args.out} exists and is not an empty folder (use --force to write into it)",
              file=sys.stderr)
        return 2
    try:
        convert(args.checkpoint, args.out, args.tokenizer)
    except (CheckpointError, TokenizerError) as error:
        print(f"convert_laion: {error}", file=sys.stderr)
        return 2
    print(f"convert_laion: wrote {args.out} (ClapModel{' + tokenizer' if args.tokenizer else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
