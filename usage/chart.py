"""A stacked bar chart of report rows as plain geometry, drawn as inline SVG by a template:
server-side, no script (CSP allows only same-origin scripts) and no style attributes (colours
come from classes in usage/report.css)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from usage.reports import ReportRow

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 44
MAX_BARS = 40
MAX_BAR_WIDTH = 96
MAX_LABELS = 16
LABEL_CHARS = 12

# (part, css class, legend): input, reasoning and the rest of the output, bottom to top.
PARTS = (
    ("input", "chart-input", "Input (prompt)"),
    ("reasoning", "chart-reasoning", "Reasoning (billed as output)"),
    ("answer", "chart-answer", "Answer output"),
)


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    title: str


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    segments: list[Segment]
    gridlines: list[AxisLabel]  # y is the line's position; text its value
    x_labels: list[AxisLabel]
    legend: Sequence[tuple[str, str]]
    plot_left: int
    plot_right: int
    baseline: int
    omitted: int  # rows beyond MAX_BARS, not drawn


def _parts(row: ReportRow) -> dict[str, int]:
    reasoning = min(row.reasoning_tokens, row.completion_tokens)
    return {
        "input": row.prompt_tokens,
        "reasoning": reasoning,
        "answer": row.completion_tokens - reasoning,
    }


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2 or 5 times a power of ten that is at least `value` (min. 10)."""
    if value <= 10:
        return 10
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def short_number(value: int) -> str:
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return str(value)


def _short_label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def stacked_bar_chart(rows: Sequence[ReportRow], *, day_labels: bool = False) -> Chart:
    shown = list(rows[:MAX_BARS])
    top = nice_ceiling(max((row.total_tokens for row in shown), default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = HEIGHT - BOTTOM
    slot = plot_width / max(1, len(shown))
    bar_width = min(MAX_BAR_WIDTH, max(2.0, slot * 0.7))
    every = math.ceil(len(shown) / MAX_LABELS) if shown else 1
    segments, x_labels = [], []
    for index, row in enumerate(shown):
        x = LEFT + index * slot + (slot - bar_width) / 2
        y = float(baseline)
        for name, css_class, legend in PARTS:
            tokens = _parts(row)[name]
            height = plot_height * tokens / top
            if height > 0:
                y -= height
                title = f"{row.label}: {tokens:,} {legend.lower()} tokens"
                segments.append(Segment(x, y, bar_width, height, css_class, title))
        if index % every == 0:
            text = row.label[5:] if day_labels else _short_label(row.label)
            x_labels.append(AxisLabel(x + bar_width / 2, baseline + 18, text))
    gridlines = [
        AxisLabel(LEFT - 8, baseline - plot_height * step / 4, short_number(top * step // 4))
        for step in range(5)
    ]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        segments=segments,
        gridlines=gridlines,
        x_labels=x_labels,
        legend=[(css_class, legend) for _, css_class, legend in PARTS],
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        baseline=baseline,
        omitted=max(0, len(rows) - MAX_BARS),
    )
