"""The MATS model: a transformer mapper from a CLAP embedding to soft prefix tokens of a frozen LLM.

Axes: b batch, d CLAP embedding dim, p prefix length, h LLM hidden size, n sequence length, v vocabulary.

Prompt layout (the authors' released code and config), the same in training and at test time:
    USER: <Speech> [p soft tokens] </Speech> {dataset tag} {instruction}\\nASSISTANT: {answer}<eos>
The loss covers the answer tokens (and EOS) only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import CheckpointError, check_shapes, read_safetensors
from .config import Config, LLMConfig, MapperConfig
from .paths import offline_mode

PROMPT_HEAD = "USER: <Speech>"
PROMPT_TAIL = "</Speech> {tag} {instruction}\nASSISTANT:"


class TransformerMapper(nn.Module):
    """L2-normalise -> linear to p tokens, concat p learnable queries -> pre-LN transformer -> last p -> linear to h."""

    def __init__(self, embed_dim: int, llm_hidden: int, cfg: MapperConfig):
        super().__init__()
        if embed_dim % cfg.num_heads:
            raise ValueError(f"mapper.num_heads={cfg.num_heads} must divide the embedding dim {embed_dim}")
        self.prefix_length = cfg.prefix_length
        self.expand = nn.Linear(embed_dim, cfg.prefix_length * embed_dim)
        self.queries = nn.Parameter(torch.randn(cfg.prefix_length, embed_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(embed_dim, cfg.num_heads, int(cfg.mlp_ratio * embed_dim), cfg.dropout,
                                           activation="relu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.num_layers, enable_nested_tensor=False)
        self.project = nn.Linear(embed_dim, llm_hidden)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:  # [b, d] -> [b, p, h]
        b, d = embedding.shape
        # Unit norm as in the paper, then x sqrt(d) so the expanding linear layer sees unit-variance
        # coordinates. This only reparametrises that layer (same function class), but at its default init
        # a unit vector gives outputs ~0.03 that a few hundred steps learn to ignore: the prefix became a
        # constant soft prompt (input-dependent part 2.6% of its size) in the mini run before this scale.
        x = F.normalize(embedding.float(), dim=-1) * d**0.5
        x = self.expand(x).view(b, self.prefix_length, d)  # [b, p, d]
        x = torch.cat([x, self.queries.expand(b, -1, -1)], dim=1)  # [b, 2p, d]
        x = self.transformer(x)[:, self.prefix_length :]  # [b, p, d]
        return self.project(x)  # [b, p, h]


class MLPMapper(nn.Module):
    """ClipCap/CapDec's MLP mapper: normalise -> linear -> GELU -> linear to p tokens of width h.

    Not the paper's mapper: the mini preset uses it because, in a few hundred CPU steps, the transformer
    mapper learned a constant soft prompt that ignored its input (README, "Training").
    """

    def __init__(self, embed_dim: int, llm_hidden: int, cfg: MapperConfig):
        super().__init__()
        self.prefix_length, self.hidden = cfg.prefix_length, llm_hidden
        width = int(cfg.mlp_ratio * embed_dim)
        self.net = nn.Sequential(nn.Linear(embed_dim, width), nn.GELU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(width, cfg.prefix_length * llm_hidden))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:  # [b, d] -> [b, p, h]
        b, d = embedding.shape
        x = F.normalize(embedding.float(), dim=-1) * d**0.5
        return self.net(x).view(b, self.prefix_length, self.hidden)


# The mapper's first layer, whose input width is the CLAP's: read from saved weights, a trained run needs no
# encoder built to know it (at paper scale that would load the CLAP checkpoint only to read one number).
FIRST_LAYER = {"transformer": "mapper.expand.weight", "mlp": "mapper.net.0.weight"}


def mapper_input_dim(state: dict[str, torch.Tensor], kind: str) -> int:
    return int(state[FIRST_LAYER[kind]].shape[1])


def build_mapper(embed_dim: int, llm_hidden: int, cfg: MapperConfig) -> nn.Module:
    if cfg.kind == "transformer":
        return TransformerMapper(embed_dim, llm_hidden, cfg)
    if cfg.kind == "mlp":
        return MLPMapper(embed_dim, llm_hidden, cfg)
    raise ValueError(f"unknown mapper.kind {cfg.kind!r}")


# --------------------------------------------------------------------------------------------- LLM
def cpu_has_bf16() -> bool:
    """bf16 matrix units (AMX or AVX512-BF16). Without them bf16 matmuls are far slower than fp32."""
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def resolve_dtype(name: str) -> torch.dtype:
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else torch.float32


def resolve_device(name: str = "auto") -> torch.device:
    """auto: this process's GPU (cuda:LOCAL_RANK, as torchrun sets it) when CUDA is there, else the CPU."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no GPU (torch.cuda.is_available() is False)")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def load_llm(cfg: LLMConfig, seed: int = 0):
    """(peft model with LoRA on a frozen LLM, tokenizer)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from .assets import smollm2_path
    from .config import resolve_path

    offline_mode()
    dtype = resolve_dtype(cfg.dtype)
    if cfg.path == "tiny-random":
        tokenizer = AutoTokenizer.from_pretrained(smollm2_path())
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            tiny = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                               pad_token_id=tokenizer.eos_token_id, tie_word_embeddings=True)
            model = LlamaForCausalLM(tiny).to(dtype)
    else:
        path = smollm2_path() if cfg.path == "smollm2" else resolve_path(cfg.path, "llm.path")
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.requires_grad_(False)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_targets), bias="none", task_type="CAUSAL_LM")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = get_peft_model(model, lora)  # LoRA weights are kept in fp32 (peft upcasts adapters)
    return model, tokenizer


# --------------------------------------------------------------------------------------------- batches
@dataclass
class PromptBatch:
    """Token ids of one batch around the soft prefix. Left-padded so that answers end every row."""

    head_ids: torch.Tensor  # [b, n_head]
    tail_ids: torch.Tensor  # [b, n_tail], left-padded
    tail_mask: torch.Tensor  # [b, n_tail]
    answer_ids: torch.Tensor | None = None  # [b, n_ans], right-padded, ends with EOS
    answer_mask: torch.Tensor | None = None  # [b, n_ans]

    def to(self, device: torch.device) -> "PromptBatch":
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return PromptBatch(move(self.head_ids), move(self.tail_ids), move(self.tail_mask), move(self.answer_ids),
                           move(self.answer_mask))


def build_prompt_batch(tokenizer, tags: list[str], instructions: list[str], answers: list[str] | None = None,
                       max_answer_tokens: int = 150) -> PromptBatch:
    b = len(tags)
    head = tokenizer(PROMPT_HEAD, add_special_tokens=True)["input_ids"]
    tails = [tokenizer(PROMPT_TAIL.format(tag=t, instruction=i), add_special_tokens=False)["input_ids"]
             for t, i in zip(tags, instructions)]
    n_tail = max(map(len, tails))
    pad = tokenizer.pad_token_id
    tail_ids = torch.full((b, n_tail), pad, dtype=torch.long)
    tail_mask = torch.zeros((b, n_tail), dtype=torch.long)
    for row, ids in enumerate(tails):
        tail_ids[row, n_tail - len(ids) :] = torch.tensor(ids)
        tail_mask[row, n_tail - len(ids) :] = 1
    batch = PromptBatch(torch.tensor([head] * b), tail_ids, tail_mask)
    if answers is not None:
        encoded = [tokenizer(" " + a.strip(), add_special_tokens=False)["input_ids"][:max_answer_tokens]
                   + [tokenizer.eos_token_id] for a in answers]
        n_ans = max(map(len, encoded))
        batch.answer_ids = torch.full((b, n_ans), pad, dtype=torch.long)
        batch.answer_mask = torch.zeros((b, n_ans), dtype=torch.long)
        for row, ids in enumerate(encoded):
            batch.answer_ids[row, : len(ids)] = torch.tensor(ids)
            batch.answer_mask[row, : len(ids)] = 1
    return batch


class MATS(nn.Module):
    """Mapper + frozen LLM with LoRA. Only the mapper and the LoRA weights train."""

    def __init__(self, llm, tokenizer, embed_dim: int, cfg: Config):
        super().__init__()
        self.llm = llm
        self.tokenizer = tokenizer
        hidden = llm.get_input_embeddings().weight.shape[1]
        self.mapper = build_mapper(embed_dim, hidden, cfg.mapper)
        self.max_answer_tokens = cfg.data.max_answer_tokens

    def forward(self, embedding: torch.Tensor, batch: PromptBatch) -> torch.Tensor:
        return self.loss(embedding, batch)  # DDP wraps forward()

    @property
    def device(self) -> torch.device:
        return next(self.mapper.parameters()).device

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().cpu().contiguous() for name, p in self.named_parameters() if p.requires_grad}

    def load_trainable_file(self, path: str | Path, state: dict[str, torch.Tensor] | None = None) -> None:
        """The trainable weights of a checkpoint (safetensors), refused with the file named when they do not fit."""
        if state is None:
            state, _ = read_safetensors(path, "trained weights")
        self.load_trainable_state_dict(state, source=path)

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor], source: str | Path = "state dict") -> None:
        params = dict(self.named_parameters())
        expected = {n: p.shape for n, p in params.items() if p.requires_grad}
        check_shapes(state, expected, source, "trainable weights")
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)

    def embed_inputs(self, embedding: torch.Tensor, batch: PromptBatch, with_answer: bool):
        """(inputs_embeds [b, n, h], attention_mask [b, n], position_ids [b, n])."""
        table = self.llm.get_input_embeddings()
        batch = batch.to(self.device)  # batches are built on the CPU; the model may sit on a GPU
        prefix = self.mapper(embedding.to(self.device)).to(table.weight.dtype)  # [b, p, h]
        b = prefix.shape[0]
        parts = [table(batch.head_ids), prefix, table(batch.tail_ids)]
        masks = [torch.ones_like(batch.head_ids), torch.ones(b, prefix.shape[1], dtype=torch.long, device=self.device),
                 batch.tail_mask]
        if with_answer:
            parts.append(table(batch.answer_ids))
            masks.append(batch.answer_mask)
        # Rows are [head | prefix | left-padded tail | right-padded answer]; moving each row's padding to
        # its start keeps every sequence contiguous, so generation and training see the same layout.
        inputs = torch.cat(parts, dim=1)
        mask = torch.cat(masks, dim=1).to(inputs.device)
        order = torch.argsort(mask, dim=1, stable=True)  # zeros (padding) first, real tokens in order
        inputs = torch.gather(inputs, 1, order.unsqueeze(-1).expand_as(inputs))
        mask = torch.gather(mask, 1, order)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        return inputs, mask, positions

    def loss(self, embedding: torch.Tensor, batch: PromptBatch) -> torch.Tensor:
        """Mean over samples of each sample's mean answer-token cross-entropy.

        Averaging per sample first makes a gradient-accumulated or DDP-split batch give the same gradient
        as one big batch (a token mean would weight micro-batches by their answer lengths).
        """
        batch = batch.to(self.device)  # once here; embed_inputs then finds it in place
        inputs, mask, positions = self.embed_inputs(embedding, batch, with_answer=True)
        n_ans = batch.answer_ids.shape[1]
        # Answers end every row after re-packing: logits of the last n_ans + 1 positions predict them.
        out = self.llm(inputs_embeds=inputs, attention_mask=mask, position_ids=positions, logits_to_keep=n_ans + 1)
        logits = out.logits[:, :-1].float()  # [b, n_ans, v]: position t predicts answer token t
        lengths = batch.answer_mask.sum(1)  # [b]
        targets, target_mask = _right_align(batch.answer_ids, batch.answer_mask, lengths)
        token_loss = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [b, n_ans]
        per_sample = (token_loss * target_mask).sum(1) / lengths.clamp(min=1)
        return per_sample.mean()


def _right_align(ids: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor):
    """Right-padded [b, n] answers -> right-aligned (padding first), as they sit after re-packing."""
    n = ids.shape[1]
    shift = n - lengths  # [b]
    index = (torch.arange(n, device=ids.device).unsqueeze(0) - shift.unsqueeze(1)) % n
    return torch.gather(ids, 1, index), torch.gather(mask, 1, index)


def load_trained_model(weights: Path, cfg: Config, device: str = "auto") -> MATS:
    """A MATS model with the trainable weights of a checkpoint, built as ``cfg`` says, in eval mode on ``device``
    (auto: a GPU when there is one)."""
    state, _ = read_safetensors(weights, "trained weights")
    if FIRST_LAYER[cfg.mapper.kind] not in state:
        raise CheckpointError(weights, f"no {FIRST_LAYER[cfg.mapper.kind]}: not the weights of a "
                                       f"{cfg.mapper.kind} mapper")
    llm, tokenizer = load_llm(cfg.llm, seed=cfg.seed)
    model = MATS(llm, tokenizer, mapper_input_dim(state, cfg.mapper.kind), cfg)
    model.load_trainable_file(weights, state)
    return model.to(resolve_device(device)).eval()
