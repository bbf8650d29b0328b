"""The mapper and the prompt/loss of MATS on a tiny random Llama."""
import pytest
import torch
import torch.nn.functional as F

from mats_lib.config import load_config
from mats_lib.model import MATS, TransformerMapper, build_prompt_batch, load_llm
from mats_lib.noise import calibrate_noise_variance, noisy_unit


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config("smoke", {"llm.lora_dropout": 0.0})
    llm, tokenizer = load_llm(cfg.llm, seed=0)
    torch.manual_seed(0)
    model = MATS(llm, tokenizer, 16, cfg).eval()
    return model, tokenizer, cfg


def test_mapper_shapes_and_normalisation():
    cfg = load_config("paper").mapper
    mapper = TransformerMapper(32, 24, type(cfg)(prefix_length=5, num_layers=2, num_heads=4))
    x = torch.randn(3, 32)
    out = mapper(x)
    assert out.shape == (3, 5, 24)
    torch.testing.assert_close(out, mapper(7.0 * x))  # the mapper L2-normalises its input first


def test_mlp_mapper_shapes_and_normalisation():
    from mats_lib.model import build_mapper

    cfg = load_config("mini").mapper
    mapper = build_mapper(32, 24, cfg)
    x = torch.randn(3, 32)
    assert mapper(x).shape == (3, cfg.prefix_length, 24)
    torch.testing.assert_close(mapper(x), mapper(0.1 * x))


def test_prompt_carries_tag_and_instruction(tiny):
    _, tokenizer, _ = tiny
    batch = build_prompt_batch(tokenizer, ["[audio caption audiocaps]"], ["Describe the audio."], ["a dog barks"])
    tail = tokenizer.decode(batch.tail_ids[0][batch.tail_mask[0].bool()])
    assert tail == "</Speech> [audio caption audiocaps] Describe the audio.\nASSISTANT:"
    assert batch.answer_ids[0, -1].item() == tokenizer.eos_token_id


def test_answer_truncation(tiny):
    _, tokenizer, _ = tiny
    batch = build_prompt_batch(tokenizer, ["[x]"], ["q"], ["word " * 50], max_answer_tokens=7)
    assert batch.answer_mask.sum().item() == 8  # 7 answer tokens + EOS


def test_loss_covers_answer_tokens_only(tiny):
    """The loss equals a per-sample mean of cross-entropy over answer tokens computed the plain way."""
    model, tokenizer, _ = tiny
    emb = torch.randn(2, 16)
    answers = ["a cow moos", "rain falls on a tin roof while thunder rumbles"]
    batch = build_prompt_batch(tokenizer, ["[single event]", "[audio caption clotho]"],
                               ["What is it?", "Describe the audio in one sentence."], answers)
    with torch.no_grad():
        loss = model.loss(emb, batch)
        reference = []
        for row in range(2):  # one unpadded sequence at a time, labels -100 outside the answer
            n_ans = int(batch.answer_mask[row].sum())
            tail = batch.tail_ids[row][batch.tail_mask[row].bool()]
            ids = [batch.head_ids[row], tail, batch.answer_ids[row, :n_ans]]
            table = model.llm.get_input_embeddings()
            inputs = torch.cat([table(batch.head_ids[row]), model.mapper(emb[row : row + 1])[0], table(tail),
                                table(batch.answer_ids[row, :n_ans])])[None]
            logits = model.llm(inputs_embeds=inputs).logits[0]
            n = inputs.shape[1]
            reference.append(F.cross_entropy(logits[n - n_ans - 1 : n - 1], ids[2]))
        torch.testing.assert_close(loss, torch.stack(reference).mean(), rtol=1e-4, atol=1e-5)


def test_noise_keeps_unit_norm_and_matches_calibration():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 384)
    noisy = noisy_unit(x, 0.0036, g)
    torch.testing.assert_close(noisy.norm(dim=1), torch.ones(2000))
    cos = (F.normalize(x, dim=1) * noisy).sum(1).mean().item()
    assert abs(cos - 1 / (1 + 384 * 0.0036) ** 0.5) < 0.01
    variance, c = calibrate_noise_variance(F.normalize(x, dim=1).numpy(), noisy.numpy())
    assert abs(c - cos) < 1e-5 and abs(variance - 0.0036) < 0.0005


def test_device_choice(monkeypatch):
    """auto picks this process's GPU under torchrun, the CPU without one; asking for CUDA without it is an error."""
    from mats_lib.model import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(RuntimeError, match="no GPU"):
            resolve_device("cuda")
    else:
        monkeypatch.setenv("LOCAL_RANK", "0")
        assert resolve_device("auto") == torch.device("cuda", 0)


def test_prompt_batch_moves_every_tensor(tiny):
    _, tokenizer, _ = tiny
    batch = build_prompt_batch(tokenizer, ["[single event]"], ["What is it?"], ["a dog"]).to(torch.device("meta"))
    assert {t.device.type for t in (batch.head_ids, batch.tail_ids, batch.tail_mask, batch.answer_ids, batch.answer_mask)} == {"meta"}
