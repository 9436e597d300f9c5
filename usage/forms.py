"""The period and grouping of the admin usage report."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

MAX_DAYS = 366
DEFAULT_DAYS = 30
GROUP_CHOICES = [("day", "Day"), ("user", "User"), ("model", "Model"), ("key", "Provider key")]


def default_period() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


class ReportForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(choices=GROUP_CHOICES, label="Group by")

    @classmethod
    def from_query(cls, query: dict) -> ReportForm:
        """Bound to the query string; an empty one means the last 30 days by day."""
        start, end = default_period()
        data = {"start": start.isoformat(), "end": end.isoformat(), "group_by": "day"}
        data.update({name: query[name] for name in ("start", "end", "group_by") if name in query})
        return cls(data)

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end is before the start.")
            elif (end - start).days >= MAX_DAYS:
                self.add_error("end", f"Choose at most {MAX_DAYS} days.")
        return cleaned
