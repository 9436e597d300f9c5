"""What the fake's web search "found": fixed sources and citation marks in the answer.

Both protocols cite them in the answer text (DashScope's `enable_citation`); only the native
protocol sends the sources themselves (docs/upstream-protocol.md §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_CITATION_FORMAT = "[<number>]"
CITATION_FORMATS = ("[<number>]", "[ref_<number>]")

SEARCH_RESULTS: tuple[dict[str, Any], ...] = (
    {
        "index": 1,
        "title": "MiniMax-M2.5 model card",
        "url": "https://www.example.com/minimax-m2-5",
        "site_name": "Example Models",
        "icon": "https://www.example.com/favicon.ico",
    },
    {
        "index": 2,
        "title": "Reasoning models and interleaved thinking",
        "url": "https://docs.example.org/guides/reasoning?lang=en&ref=fake",
        "site_name": "Example Docs",
        "icon": "https://docs.example.org/icon.png",
    },
    {
        "index": 3,
        "title": "Why streaming matters for chat apps",
        "url": "https://blog.example.net/streaming",
        "site_name": "Example Blog",
        "icon": "",
    },
)


@dataclass(frozen=True)
class SearchRequest:
    """The search switches of one request (None: search off)."""

    enable_source: bool = True
    enable_citation: bool = False
    citation_format: str = DEFAULT_CITATION_FORMAT


def search_request(parameters: Mapping[str, Any]) -> SearchRequest | None:
    if parameters.get("enable_search") is not True:
        return None
    options = parameters.get("search_options")
    options = options if isinstance(options, Mapping) else {}
    citation_format = options.get("citation_format", DEFAULT_CITATION_FORMAT)
    return SearchRequest(
        enable_source=options.get("enable_source", True) is not False,
        enable_citation=options.get("enable_citation") is True,
        citation_format=(
            citation_format if citation_format in CITATION_FORMATS else DEFAULT_CITATION_FORMAT
        ),
    )


def cited_pieces(search: SearchRequest | None) -> list[str]:
    """The answer's closing tokens that cite the sources (none without citations)."""
    if search is None or not search.enable_citation:
        return []
    marks = [search.citation_format.replace("<number>", str(r["index"])) for r in SEARCH_RESULTS]
    return ["\n\n", "Sources", " on", " the", " web", " agree", *marks, "."]


def search_info(search: SearchRequest | None) -> dict[str, Any] | None:
    if search is None or not search.enable_source:
        return None
    return {"search_results": [dict(result) for result in SEARCH_RESULTS]}
