"""A protocol-faithful fake of DashScope's chat endpoints, OpenAI-compatible and native
(Django-free).

Used by the test suite, the benchmarks and the app's offline demo model. `respond` is the
protocol core; `server` wraps it in a TCP server, `transport` in an in-process httpx transport.
"""

from .responder import FakeResponse, respond
from .scenarios import ERRORS, ErrorSpec, Scenario, ScenarioError, prompt_of, scenario_from
from .texts import answer_text, reasoning_text, tokenize

__all__ = [
    "ERRORS",
    "ErrorSpec",
    "FakeResponse",
    "Scenario",
    "ScenarioError",
    "answer_text",
    "prompt_of",
    "reasoning_text",
    "respond",
    "scenario_from",
    "tokenize",
]
