"""A tiny model folder and transformers' reading of chat samples, for the end-to-end chat template test.

Usage: python chat_reference.py DIR FAMILY END_OF_TURN < conversations.json

DIR already holds the tokenizer files; FAMILY (llama or qwen3) picks a tiny randomly initialised model whose
weights are written there by save_pretrained. Prints, for each conversation, the token ids of
`apply_chat_template(messages, tokenize=True)` and the trained mask: 1 for each token overlapping an assistant
turn, found by rendering prefixes (the conversation up to the turn with `add_generation_prompt=True`; the turn
runs from there through the next END_OF_TURN token).
"""

import json
import sys

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

directory, family, end_of_turn = sys.argv[1:4]
conversations = json.load(sys.stdin)

torch.manual_seed(0)
small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
             num_key_value_heads=1, tie_word_embeddings=True)
# Token ids as the real models' configs give them (an instruct Llama 3 ends at <|end_of_text|> or <|eot_id|>).
if family == "llama":
    config = LlamaConfig(vocab_size=128256, bos_token_id=128000, eos_token_id=[128001, 128009], **small)
    model = LlamaForCausalLM(config)
elif family == "qwen3":
    config = Qwen3Config(vocab_size=151936, head_dim=16, bos_token_id=151643, eos_token_id=151645, **small)
    model = Qwen3ForCausalLM(config)
else:
    raise SystemExit(f"unknown family {family!r}")
model.save_pretrained(directory, safe_serialization=True)

tokenizer = AutoTokenizer.from_pretrained(directory)


def render(messages, prompt=False):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)


out = []
for messages in conversations:
    ids = tokenizer.apply_chat_template(messages, tokenize=True)
    if not isinstance(ids, list):  # a BatchEncoding where return_dict defaults to True
        ids = ids["input_ids"]
    text = render(messages)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert encoded["input_ids"] == ids, "apply_chat_template's ids are not the rendering's"
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render(messages[:i], prompt=True)
        assert text.startswith(prompt), f"the rendering does not extend turn {i}'s prompt"
        spans.append((len(prompt), text.index(end_of_turn, len(prompt)) + len(end_of_turn)))
    mask = [int(any(s < end and start < e for s, e in spans)) for start, end in encoded["offset_mapping"]]
    out.append({"ids": ids, "mask": mask})
print(json.dumps(out))
