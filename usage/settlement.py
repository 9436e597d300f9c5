"""What an ended answer used: the upstream's own report when it sent one, else an estimate
from the request and the text that streamed (usage.estimate)."""

from __future__ import annotations

from collections.abc import Sequence

from chat.upstream import Usage
from usage.estimate import prompt_tokens, text_tokens
from usage.services import AttemptUsage, Settlement


def reported_usage(usage: Usage) -> AttemptUsage:
    return AttemptUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        reasoning_tokens=usage.reasoning_tokens or 0,
        cached_tokens=usage.cached_tokens or 0,
    )


def estimated_usage(*, messages: Sequence[dict], reasoning: str, content: str) -> AttemptUsage:
    """An answer without a usage report. One that failed before any text was not billed (the
    upstream refused it); anything else read the prompt and wrote what streamed."""
    thought = text_tokens(reasoning)
    return AttemptUsage(
        prompt_tokens=prompt_tokens(messages),
        completion_tokens=thought + text_tokens(content),
        reasoning_tokens=thought,
        estimated=True,
    )


def answer_settlement(
    *,
    outcome: str,
    error_code: str,
    reported: Usage | None,
    messages: Sequence[dict],
    reasoning: str,
    content: str,
    model: str,
    provider_key_id: int | None,
    earlier_failures: Sequence[str],
) -> Settlement:
    if reported is not None:
        usage = reported_usage(reported)
    elif outcome == "failed" and not reasoning and not content:
        usage = AttemptUsage()
    else:
        usage = estimated_usage(messages=messages, reasoning=reasoning, content=content)
    return Settlement(
        outcome=outcome,
        usage=usage,
        model=model,
        provider_key_id=provider_key_id,
        error_code=error_code,
        earlier_failures=tuple(earlier_failures),
    )
