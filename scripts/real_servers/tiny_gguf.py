"""Write a tiny llama-architecture GGUF chat model with the `gguf` package: no model hub needed.

    python tiny_gguf.py OUT.gguf          # run with a Python that has `gguf` and `numpy`

The model is built so that greedy decoding answers every prompt with the same sentence:

* the vocabulary is SentencePiece-style (`tokenizer.ggml.model = llama`): control tokens for a
  ChatML template, the 256 byte-fallback tokens, every printable ASCII character and a few words;
* the token embedding is one-hot (`n_embd` >= the vocabulary) and every attention and
  feed-forward weight is zero, so the last hidden state is the embedding of the last token;
* the output matrix maps each token to its successor in a fixed chain: the last token of the
  generation prompt (`<|im_start|>assistant\\n`) -> "Hello" -> " from" -> " tiny" -> " llama" -> "."
  -> `<|im_end|>` (end of generation). Any other token is followed by "Hello".

The chat template renders tools and tool calls the Hermes way (`<tools>`, `<tool_call>`), so
llama.cpp's server recognises it as a tool-capable template; this model never calls one on its own.
"""
from __future__ import annotations

import sys

import numpy as np
import gguf

CHAT_TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n"
    "{%- if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{% endif -%}"
    "You may call functions. <tools>{% for tool in tools %}{{ tool | tojson }}{% endfor %}</tools> "
    "Answer a call as <tool_call>{\"name\": ..., \"arguments\": ...}</tool_call>.<|im_end|>\n"
    "{%- elif messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
    "{%- elif message.role == 'assistant' %}<|im_start|>assistant\n"
    "{% if message.content %}{{ message.content }}{% endif %}"
    "{% if message.tool_calls %}{% for call in message.tool_calls %}<tool_call>\n"
    "{\"name\": \"{{ call.function.name }}\", \"arguments\": {{ call.function.arguments | tojson }}}\n</tool_call>"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{%- elif message.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ message.content }}\n</tool_response><|im_end|>\n"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CONTROL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
WORDS = ["Hello", "\u2581from", "\u2581tiny", "\u2581llama", "assistant", "user", "system",
         "<tool_call>", "</tool_call>", "<tools>", "</tools>", "<tool_response>", "</tool_response>"]
CHAIN = ["Hello", "\u2581from", "\u2581tiny", "\u2581llama", ".", "<|im_end|>"]


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    T = gguf.TokenType
    tokens, scores, types = [], [], []
    for tok in CONTROL:
        tokens.append(tok); scores.append(0.0)
        types.append(T.UNKNOWN if tok == "<unk>" else T.CONTROL)
    for byte in range(256):
        tokens.append(f"<0x{byte:02X}>"); scores.append(0.0); types.append(T.BYTE)
    singles = ["\u2581"] + [chr(c) for c in range(33, 127)]
    for tok in singles:
        tokens.append(tok); scores.append(-1.0); types.append(T.NORMAL)
    for tok in WORDS:
        if tok not in tokens:
            tokens.append(tok); scores.append(float(len(tok))); types.append(T.NORMAL)
    return tokens, scores, types


def build(path: str) -> None:
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    n_head = 4
    n_embd = ((n_vocab + 63) // 64) * 64
    head_dim = n_embd // n_head
    n_ff = 64
    index = {tok: i for i, tok in enumerate(tokens)}
    newline = index["<0x0A>"]

    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("responses-conformance tiny chat model")
    writer.add_context_length(2048)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(index["<s>"])
    writer.add_eos_token_id(index["<|im_end|>"])
    writer.add_unk_token_id(index["<unk>"])
    writer.add_pad_token_id(index["</s>"])
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    embd = np.zeros((n_vocab, n_embd), dtype=np.float32)
    embd[np.arange(n_vocab), np.arange(n_vocab)] = 1.0
    # successor[t]: the token greedy decoding picks after t.
    successor = np.full(n_vocab, index["Hello"])
    successor[newline] = index["Hello"]
    for a, b in zip(CHAIN, CHAIN[1:]):
        successor[index[a]] = index[b]
    output = np.zeros((n_vocab, n_embd), dtype=np.float32)
    output[successor, np.arange(n_vocab)] = 1.0  # logits[next] = hidden[t]

    zeros = lambda *shape: np.zeros(shape, dtype=np.float32)  # noqa: E731
    ones = lambda *shape: np.ones(shape, dtype=np.float32)  # noqa: E731
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", ones(n_embd))
    writer.add_tensor("output.weight", output)
    writer.add_tensor("blk.0.attn_norm.weight", ones(n_embd))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", zeros(n_embd, n_embd))
    writer.add_tensor("blk.0.ffn_norm.weight", ones(n_embd))
    writer.add_tensor("blk.0.ffn_gate.weight", zeros(n_ff, n_embd))
    writer.add_tensor("blk.0.ffn_up.weight", zeros(n_ff, n_embd))
    writer.add_tensor("blk.0.ffn_down.weight", zeros(n_embd, n_ff))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    build(sys.argv[1])
