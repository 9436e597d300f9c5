from __future__ import annotations

import pytest

from accounts.user_agents import device_label

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (
            CHROME_LINUX.replace("X11; Linux x86_64", "Linux; Android 14; Pixel 8"),
            "Chrome on Android",
        ),
        (CHROME_LINUX + " Edg/131.0.0.0", "Edge on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iPhone",
        ),
        ("curl/8.5.0", "curl/8.5.0"),
        ("", "Unknown browser"),
    ],
)
def test_device_label_names_browser_and_system(agent, label):
    assert device_label(agent) == label
