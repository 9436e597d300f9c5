"""The report as a table: one header and the same cells for the admin page and its CSV, so
the two cannot disagree."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from usage.reports import Report, ReportRow

GROUP_HEADERS = {"day": "Day", "user": "User", "model": "Model", "key": "Provider key"}
COUNT_HEADERS = [
    "Requests",
    "Failures",
    "Prompt tokens",
    "Completion tokens",
    "Reasoning tokens",
    "Cached tokens",
]

Cell = str | int | Decimal


def report_header(report: Report) -> list[str]:
    costs = [f"Cost ({currency})" for currency in report.currencies]
    return [GROUP_HEADERS[report.group_by], *COUNT_HEADERS, *costs]


def row_cells(report: Report, row: ReportRow) -> list[Cell]:
    counts = [
        row.requests,
        row.failures,
        row.prompt_tokens,
        row.completion_tokens,
        row.reasoning_tokens,
        row.cached_tokens,
    ]
    costs = [row.cost.get(currency, Decimal(0)) for currency in report.currencies]
    return [row.label, *counts, *costs]


def _spreadsheet_safe(cell: Cell) -> Cell:
    # A user name like "=HYPERLINK(…)" or "+1" would run as a formula in a spreadsheet.
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@"):
        return "'" + cell
    return cell


def report_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report_header(report))
    for row in [*report.rows, report.total]:
        writer.writerow([_spreadsheet_safe(cell) for cell in row_cells(report, row)])
    return out.getvalue()
