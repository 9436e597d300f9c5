"""A short label ("Firefox on Windows") for the browser behind a session.

Hand-written: the account page needs only the browser family and the system, which a dozen
substrings give; a full parser (ua-parser and its regex database) would be a dependency
for that one label. Order matters: Edge and Opera also say "Chrome", Chrome also says
"Safari", Android also says "Linux"."""

from __future__ import annotations

_BROWSERS = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
]
_SYSTEMS = [
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
]


def device_label(user_agent: str) -> str:
    browser = next((name for key, name in _BROWSERS if key in user_agent), "")
    system = next((name for key, name in _SYSTEMS if key in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or (user_agent[:60] or "Unknown browser")
