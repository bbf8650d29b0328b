"""Generation from CLAP embeddings (audio at test time, or text for checks); a run is loaded by ``runs.load_run``.

Axes: b batch, d embedding dim.
"""
from __future__ import annotations

import torch

from .config import DecodingConfig as Decoding  # Decoding: the paper's decoding (s.7)
from .data.tasks import get_task
from .model import MATS, build_prompt_batch


class GeneratedRepetitionPenalty:
    """CTRL's repetition penalty over the tokens generated so far (logits of repeats / penalty, or x penalty
    when negative).

    transformers' own processor skips the first (left-padding length) ids of every row, which is right
    when ``input_ids`` holds the padded prompt but wrong with ``inputs_embeds``, where it holds only the
    generated tokens: padded rows of a batch would then escape the penalty for their first tokens, and a
    batch would decode differently from its rows one by one.
    """

    def __init__(self, penalty: float):
        self.penalty = penalty

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] == 0 or self.penalty == 1.0:
            return scores
        picked = torch.gather(scores, 1, input_ids)
        picked = torch.where(picked < 0, picked * self.penalty, picked / self.penalty)
        return scores.scatter(1, input_ids, picked)


@torch.no_grad()
def generate(model: MATS, embeddings: torch.Tensor, tasks: list[str], instructions: list[str | None],
             decoding: Decoding = Decoding()) -> list[str]:
    """[b, d] embeddings + each row's task (for its dataset tag) and instruction -> b answers."""
    model.eval()
    tags = [get_task(t).tag for t in tasks]
    instructions = [i or get_task(t).instruction for i, t in zip(instructions, tasks)]
    batch = build_prompt_batch(model.tokenizer, tags, instructions)
    inputs, mask, _ = model.embed_inputs(embeddings, batch, with_answer=False)
    tok = model.tokenizer
    from transformers import LogitsProcessorList

    out = model.llm.generate(inputs_embeds=inputs, attention_mask=mask, do_sample=False,
                             num_beams=decoding.num_beams, no_repeat_ngram_size=decoding.no_repeat_ngram_size,
                             logits_processor=LogitsProcessorList([GeneratedRepetitionPenalty(decoding.repetition_penalty)]),
                             length_penalty=decoding.length_penalty, max_new_tokens=decoding.max_new_tokens,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return [text.strip() for text in tok.batch_decode(out, skip_special_tokens=True)]
