"""Renders chat cases with Hugging Face transformers itself, as the reference for ModelChatTemplate.

Reads on stdin a JSON list of jobs {dir, template?, cases}: `dir` holds tokenizer.json and
tokenizer_config.json (AutoTokenizer.from_pretrained reads it); `template`, the path of a tokenizer_config.json,
replaces the tokenizer's chat_template with its own (a string, or a list of named templates, which
transformers keeps as a dict and picks from as usual). Each case is {messages, tools?, add_generation_prompt?,
enable_thinking?, variables?, spans?}.

Writes a JSON list (one per job) of lists (one per case): {"text"} from apply_chat_template(...,
tokenize=False), plus "spans" (the character ranges of the {% generation %} blocks, as
return_assistant_tokens_mask finds them) when the case asks, or {"error"} when the template fails on the case.
"""

import json
import sys

from transformers import AutoTokenizer
from transformers.utils.chat_template_utils import render_jinja_template


def render(tokenizer, case):
    kwargs = dict(case.get("variables") or {})
    if "enable_thinking" in case:
        kwargs["enable_thinking"] = case["enable_thinking"]
    tools = case.get("tools")
    add_generation_prompt = case.get("add_generation_prompt", False)
    try:
        text = tokenizer.apply_chat_template(
            case["messages"],
            tools=tools,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            **kwargs,
        )
        result = {"text": text}
        if case.get("spans"):
            # What apply_chat_template(return_assistant_tokens_mask=True) builds its mask from.
            rendered, indices = render_jinja_template(
                conversations=[case["messages"]],
                tools=tools,
                chat_template=tokenizer.get_chat_template(None, tools),
                return_assistant_tokens_mask=True,
                add_generation_prompt=add_generation_prompt,
                **{**tokenizer.special_tokens_map, **kwargs},
            )
            assert rendered[0] == text
            result["spans"] = [list(span) for span in indices[0]]
        return result
    except Exception as e:  # the case is reported, not the run aborted
        return {"error": f"{type(e).__name__}: {e}"}


tokenizers = {}
out = []
for job in json.load(sys.stdin):
    if job["dir"] not in tokenizers:
        tokenizers[job["dir"]] = AutoTokenizer.from_pretrained(job["dir"])
    tokenizer = tokenizers[job["dir"]]
    original = tokenizer.chat_template
    if job.get("template"):
        with open(job["template"], encoding="utf-8") as f:
            template = json.load(f)["chat_template"]
        if isinstance(template, list):
            template = {entry["name"]: entry["template"] for entry in template}
        tokenizer.chat_template = template
    out.append([render(tokenizer, case) for case in job["cases"]])
    tokenizer.chat_template = original
sys.stdout.write(json.dumps(out, ensure_ascii=False))
