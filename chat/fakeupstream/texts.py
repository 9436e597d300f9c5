"""Deterministic reasoning and answer texts, and the tokenizer that cuts them into chunks.

Same (scenario, prompt) → same text, so tests can assert that the browser shows exactly
`answer_text(scenario, prompt)`. `prompt` is `scenarios.prompt_of(messages)`.
"""

from __future__ import annotations

import itertools
import re

from .scenarios import Scenario

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u3000-\u303f\uff01-\uff60"
_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff"
# Alternatives are tried in order; the final `.` guarantees every character is covered, so
# joining the tokens always gives back the text.
_TOKEN = re.compile(
    r"[ \t]+(?=[ \t])"  # indentation: all but the last space, which joins the next word
    r"| ?[A-Za-z\u00c0-\u024f]+"
    r"| ?[0-9]{1,3}"
    rf"|[{_CJK}]"
    rf"|[{_EMOJI}]\ufe0f?"
    r"|\n+"
    rf"| ?[^\s\w{_EMOJI}]"
    r"|.",
    re.DOTALL,
)
EMPTY_PROMPT = "(empty message)"


def tokenize(text: str) -> list[str]:
    """Split like a BPE tokenizer would, roughly; ''.join(tokenize(t)) == t always."""
    return _TOKEN.findall(text)


def reasoning_pieces(scenario: Scenario, prompt: str) -> list[str]:
    return _fit(_natural_reasoning(scenario.answer, prompt), scenario.reasoning_tokens)


def answer_pieces(scenario: Scenario, prompt: str) -> list[str]:
    return _fit(_natural_answer(scenario.answer, prompt), scenario.answer_tokens)


def reasoning_text(scenario: Scenario, prompt: str) -> str:
    return "".join(reasoning_pieces(scenario, prompt))


def answer_text(scenario: Scenario, prompt: str) -> str:
    return "".join(answer_pieces(scenario, prompt))


def _fit(text: str, count: int | None) -> list[str]:
    """Cut to `count` tokens, or cycle the text (paragraph-separated) until it has that many."""
    pieces = tokenize(text)
    if count is None or len(pieces) >= count:
        return pieces[:count]
    return list(itertools.islice(itertools.cycle(tokenize(text + "\n\n")), count))


def _excerpt(prompt: str, limit: int = 80) -> str:
    flat = " ".join(prompt.split()) or EMPTY_PROMPT
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _quote(prompt: str, limit: int = 600) -> str:
    text = prompt or EMPTY_PROMPT
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


_PLANS = {
    "markdown": "I'll answer with a heading, a code example, a table and a short list, and "
    "include some 日本語と中文 and emoji so the rendering is easy to check.",
    "short": "A short, friendly reply is enough here.",
    "cjk": "I'll answer in Chinese and Japanese: 中文と日本語.",
    "emoji": "A playful answer with a few emoji 🚀✨ fits well.",
    "long": "This needs a long, detailed answer with several sections.",
    "echo": "I'll repeat the message back exactly as written.",
}


def _natural_reasoning(kind: str, prompt: str) -> str:
    if kind == "demo":
        return _DEMO_REASONING.format(excerpt=_excerpt(prompt))
    return (
        f'The user wrote: "{_excerpt(prompt)}". Let me think about what they need. '
        f"{_PLANS[kind]} I'll keep the answer well structured: the main point first, then "
        "the details. Let me double-check the facts before writing. Okay, that looks right. "
        "Now let me write the answer."
    )


def _natural_answer(kind: str, prompt: str) -> str:
    if kind == "echo":
        return prompt or EMPTY_PROMPT
    if kind == "demo":
        return _DEMO_ANSWER.format(quote=_quote(prompt))
    if kind == "long":
        return _long_answer()
    return _ANSWERS[kind]


_MARKDOWN = """## Streaming test answer

This is a **deterministic** answer from the fake upstream. It uses `inline code`, **bold \
text** and *italics*, so the renderer has something to do.

```python
def fibonacci(n: int) -> list[int]:
    \"\"\"Return the first n Fibonacci numbers.\"\"\"
    numbers = [0, 1]
    while len(numbers) < n:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:n]
```

| Feature | Example | Status |
|---|---|---|
| Bold | **strong** | ✅ |
| Code | `print("hi")` | ✅ |
| CJK | 日本語と中文 | ✅ |

- First item
- Second item with `code`
- Third item: 3 < 5 & 7 > 2

日本語と中文も表示できます。这是一个测试。Emoji: 🚀✨

That's all for this test."""

_ANSWERS = {
    "markdown": _MARKDOWN,
    "short": "Hello! How can I help you today?",
    # Full-width punctuation on purpose: it is what CJK text really contains.
    "cjk": "你好！我是一个用于测试的模型。日本語のテキストも正しく表示できます。"  # noqa: RUF001
    "中文和日本語が混在していても問題ありません。谢谢！",  # noqa: RUF001
    "emoji": "Sure! 🚀✨ Here are some emoji: 😀 👍 🎉 ❤️ 🇯🇵 👨‍👩‍👧 and a "
    "thumbs up with a skin tone 👍🏽. Have a great day! 🌈",
}

_LONG_TOPICS = (
    "Streaming",
    "Reasoning",
    "Markdown",
    "Reliability",
    "Latency",
    "Storage",
)
_LONG_PARAGRAPHS = (
    "A streaming answer arrives in many small pieces. Each piece is appended to the message "
    "as soon as it is received, so the reader sees the text grow word by word instead of "
    "waiting for the whole reply.",
    "Long answers test scrolling, rendering speed and how often the page saves its progress. "
    "The text repeats on purpose, but every section has its own number so nothing is lost "
    "or duplicated without anyone noticing.",
    "Checkpoints, sequence numbers and snapshots let a page reload in the middle of a long "
    "reply and continue exactly where it stopped, 一字不差 (word for word).",
)


def _long_answer() -> str:
    sections = []
    for number in range(1, 13):
        topic = _LONG_TOPICS[number % len(_LONG_TOPICS)]
        paragraph = _LONG_PARAGRAPHS[number % len(_LONG_PARAGRAPHS)]
        sections.append(f"### Part {number}: {topic}\n\n{paragraph}\n\n- Section {number} done")
    return "# A long answer\n\n" + "\n\n".join(sections) + "\n\nThe end."


_DEMO_REASONING = (
    'The user wrote: "{excerpt}". I am running as the offline demo of minimax-web, not the '
    "real MiniMax-M2.5, so I cannot actually think about this question or answer it "
    "properly. What I can do is be honest about that: say clearly that this is a demo, "
    "quote their message back, and show how the chat renders an answer — a heading, "
    "**bold** and `code`, a table, a list, 日本語と中文 and emoji. Then I should explain how "
    "to connect the real model: set DASHSCOPE_API_KEY, or add an API key in the Django "
    "admin. Let me write that."
)

_DEMO_ANSWER = """## Offline demo — this is not MiniMax-M2.5

You are using the **offline demo** of minimax-web. This reply was generated locally by a \
built-in fake model; nothing was sent to MiniMax-M2.5 or any other real model, so it does \
not actually answer your message.

You wrote:

{quote}

With the real model connected, MiniMax-M2.5 would think about that and answer it here. \
The demo shows how a streamed answer looks instead.

### What answers can contain

- **Bold**, *italics* and `inline code`
- Mixed scripts: 日本語と中文 are shown as they are
- Emoji: 🚀✨

```python
def greet(name: str) -> str:
    return f"Hello, {{name}}!"
```

| Setting | Where |
|---|---|
| `DASHSCOPE_API_KEY` | environment of the server process |
| API key | Django admin (`/admin/`) |

### How to connect the real model

1. Create an API key in Alibaba Cloud Model Studio (DashScope), China (Beijing) region.
2. Either set the `DASHSCOPE_API_KEY` environment variable and restart the server, or add \
the key under *Provider keys* in the Django admin.
3. Start a new chat: answers now come from **MiniMax-M2.5**, and the demo banner is gone."""
