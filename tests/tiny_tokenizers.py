"""Small real byte-level BPE tokenizers in GPT-2's and RoBERTa's shapes, trained here in milliseconds: the tests'
stand-ins for the tokenizer files a paper-scale user gives with ``encoder.tokenizer`` (none ship offline)."""
from __future__ import annotations

from pathlib import Path

CORPUS = ["a dog barks while rain falls on a tin roof", "birds sing in the morning", "a car engine idles",
          "people talk in a crowded room", "water flows in a stream", "a bell rings twice"] * 4
VOCAB = 400


def write_tiny_tokenizer(folder: str | Path, kind: str = "gpt2") -> Path:
    """A trained byte-level BPE saved as a Hugging Face folder: ``kind`` 'gpt2' (<|endoftext|>) or 'roberta'
    (<s> <pad> </s> <unk> <mask>, RoBERTa's template)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast, RobertaTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>"] if kind == "gpt2" else ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=VOCAB, min_frequency=1, special_tokens=specials, show_progress=False)
    bpe.save_model(str(folder))  # vocab.json + merges.txt, the original files' layout
    cls = GPT2TokenizerFast if kind == "gpt2" else RobertaTokenizerFast
    cls(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt")).save_pretrained(str(folder))
    return folder
