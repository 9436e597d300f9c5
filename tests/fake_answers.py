"""The exact text the offline demo transport streams for a prompt, so a test can assert that a
client ends with all of it, or with exactly the part sent before a fault."""

from __future__ import annotations

from chat import upstream_config
from chat.fakeupstream.scenarios import prompt_of, scenario_from
from chat.fakeupstream.texts import answer_pieces, reasoning_pieces


def fake_tokens(text: str) -> tuple[list[str], list[str]]:
    """The reasoning and answer tokens the demo transport streams for the user message `text`
    (its `[[fake …]]` directives applied to the demo's own scenario)."""
    messages = [{"role": "user", "content": text}]
    scenario = scenario_from({}, messages, upstream_config.demo_transport().base)
    prompt = prompt_of(messages)
    return reasoning_pieces(scenario, prompt), answer_pieces(scenario, prompt)


def fake_answer(text: str, tokens: int | None = None) -> tuple[str, str]:
    """(reasoning, content) of the first `tokens` tokens streamed for `text` (None: all)."""
    reasoning, answer = fake_tokens(text)
    if tokens is None:
        return "".join(reasoning), "".join(answer)
    return "".join(reasoning[:tokens]), "".join(answer[: max(0, tokens - len(reasoning))])
