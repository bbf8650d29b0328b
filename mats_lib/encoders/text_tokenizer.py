"""The text towers' tokenizers, from a path the user gives (``encoder.tokenizer``), checked before any embedding.

Neither CLAP checkpoint holds its tokenizer (MS-CLAP 2023: GPT-2's; LAION-CLAP: RoBERTa's) and no hub is
reachable at run time. Offline, a tokenizer can load "successfully" with a wrong or empty vocabulary and the text
tower then embeds garbage without an error, so a loaded tokenizer must show a real vocabulary, round-trip a known
phrase, and fit the text tower's embedding table before it is used.

Accepted: a Hugging Face tokenizer folder (``tokenizer.json`` or ``tokenizer_config.json``), or a folder holding
the original byte-level BPE files (``vocab.json`` + ``merges.txt``).
"""
from __future__ import annotations

from pathlib import Path

KEY = "encoder.tokenizer"
# Byte-level BPE has at least one token per byte: a smaller vocabulary is not a GPT-2 / RoBERTa tokenizer
MIN_VOCAB = 256
PROBE = "a dog barks while rain falls on a tin roof"
WHICH = {"msclap": "GPT-2", "laion": "RoBERTa (roberta-base)"}


class TokenizerError(ValueError):
    """The tokenizer named by ``encoder.tokenizer`` is missing or cannot be trusted; the message says which."""


def load_text_tokenizer(path: str | Path | None, backend: str):
    """The tokenizer at ``path`` for ``backend`` ('msclap' or 'laion'), checked by :func:`check_tokenizer`."""
    from transformers import AutoTokenizer, GPT2TokenizerFast, RobertaTokenizerFast

    which = WHICH.get(backend, backend)
    if path in (None, "", "???"):
        raise TokenizerError(f"{backend} needs its {which} tokenizer: give {KEY}=/path/to/folder (tokenizer.json, "
                             f"or vocab.json + merges.txt); the checkpoint holds none and nothing is downloaded")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise TokenizerError(f"{KEY}: {folder} is not an existing folder (give the folder of the {which} tokenizer)")
    try:
        if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        elif (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
            cls = RobertaTokenizerFast if backend == "laion" else GPT2TokenizerFast
            tokenizer = cls(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
        else:
            raise TokenizerError(f"{KEY}: {folder} holds no tokenizer (tokenizer.json, tokenizer_config.json, or "
                                 f"vocab.json + merges.txt)")
    except TokenizerError:
        raise
    except Exception as error:  # noqa: BLE001 - any loader failure is the user's folder, named with its cause
        raise TokenizerError(f"{KEY}: {folder} does not load as a tokenizer ({type(error).__name__}: "
                             f"{str(error)[:200]})") from error
    check_tokenizer(tokenizer, folder)
    return tokenizer


def check_tokenizer(tokenizer, where: str | Path, embedding_rows: int | None = None) -> None:
    """Non-trivial vocabulary, a lossless round trip of a known phrase with no unknown token, and (when the text
    tower is known) no id past its embedding table. Raises :class:`TokenizerError` naming ``where``."""
    size = len(tokenizer)
    if size < MIN_VOCAB:
        raise TokenizerError(f"{KEY}: {where} has a {size}-token vocabulary (a byte-level BPE has at least "
                             f"{MIN_VOCAB}): an empty or wrong tokenizer")
    ids = tokenizer(PROBE, add_special_tokens=False)["input_ids"]
    if not ids or (tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids):
        raise TokenizerError(f"{KEY}: {where} maps {PROBE!r} to {ids[:12]} (empty or unknown tokens)")
    back = tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False).strip()
    if back != PROBE:
        raise TokenizerError(f"{KEY}: {where} does not round-trip {PROBE!r} (got {back!r})")
    if embedding_rows is not None and size > embedding_rows:
        raise TokenizerError(f"{KEY}: {where} has {size} tokens, the text tower's embedding table {embedding_rows} "
                             f"rows: not this checkpoint's tokenizer")


def fingerprint(tokenizer) -> str:
    """Hash of what maps text to ids (vocabulary, merges, normalisation, special tokens) as the tokenizer serialises
    it: part of an encoder's settings. The padding and truncation of its last call, which the serialisation also
    records, are left out, so the hash does not change once the tokenizer has been used."""
    import hashlib
    import json

    state = json.loads(tokenizer.backend_tokenizer.to_str())
    state.pop("padding", None)
    state.pop("truncation", None)
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
