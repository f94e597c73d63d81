"""Write a tiny Llama chat model for `transformers serve` into a folder: no model hub needed.

    python tiny_transformers.py OUT_DIR          # with a Python that has transformers, torch, tokenizers

The same construction as tiny_gguf.py, in transformers' own format: a byte-level BPE tokenizer
(the 256 byte symbols, a few whole words that only the model emits, ChatML markers as special
tokens, a ChatML chat template), a one-hot embedding, zero attention and MLP weights, and an output
matrix that maps each token to its successor in a fixed chain, so greedy decoding answers every
prompt "Hello from tiny transformers." and stops at `<|im_end|>`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.content is string %}{%- set text = message.content %}"
    "{%- else %}{%- set text = message.content | map(attribute='text') | join('') %}{%- endif %}"
    "<|im_start|>{{ message.role }}\n{{ text }}<|im_end|>\n"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
WORDS = ["Hello", "\u0120from", "\u0120tiny", "\u0120transformers"]
SPECIAL = ["<|im_start|>", "<|im_end|>"]


def byte_symbols() -> list[str]:
    """GPT-2's byte-to-unicode table: the symbol of every byte, in byte order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    table = dict(zip(bs, cs))
    return [chr(table[b]) for b in range(256)]


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    symbols = byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols)}
    for word in WORDS + ["."]:
        vocab.setdefault(word, len(vocab))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(SPECIAL)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=None, eos_token="<|im_end|>",
                                   pad_token="<|im_end|>", unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)

    n_vocab = len(tokenizer.get_vocab())
    index = tokenizer.get_vocab()
    hidden = ((n_vocab + 63) // 64) * 64
    config = LlamaConfig(vocab_size=n_vocab, hidden_size=hidden, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=4096,
                         rms_norm_eps=1e-5, tie_word_embeddings=False, eos_token_id=index["<|im_end|>"],
                         pad_token_id=index["<|im_end|>"], bos_token_id=None, torch_dtype="float32")
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    chain = ["Hello", "\u0120from", "\u0120tiny", "\u0120transformers", ".", "<|im_end|>"]
    successor = torch.full((n_vocab,), index["Hello"], dtype=torch.long)
    for a, b in zip(chain, chain[1:]):
        successor[index[a]] = index[b]
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
        model.model.embed_tokens.weight[torch.arange(n_vocab), torch.arange(n_vocab)] = 1.0
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        model.lm_head.weight[successor, torch.arange(n_vocab)] = 1.0
    model.generation_config = GenerationConfig(do_sample=False, max_new_tokens=64, eos_token_id=index["<|im_end|>"],
                                               pad_token_id=index["<|im_end|>"])
    model.save_pretrained(out)
    (out / "README.md").write_text("A tiny deterministic chat model written by tiny_transformers.py.\n", encoding="utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
