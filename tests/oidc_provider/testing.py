"""Start the test identity provider as a process, and walk a browser's part of the sign-in
(the provider's login form) with requests."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

from chat.fakeupstream.testing import stop_process

REPO = Path(__file__).resolve().parents[2]
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class RunningProvider:
    url: str
    client_id: str
    client_secret: str

    def settings(self) -> dict:
        """minimax-web's settings for this provider, as the README's variables give them."""
        return {
            "OIDC_ENABLED": True,
            "OIDC_RP_CLIENT_ID": self.client_id,
            "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.url}/o/authorize/",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.url}/o/token/",
            "OIDC_OP_USER_ENDPOINT": f"{self.url}/o/userinfo/",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.url}/o/.well-known/jwks.json",
        }

    def environment(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.settings().items() if k != "OIDC_ENABLED"}


@contextlib.contextmanager
def start_provider(*, redirect_uris: list[str], users: list[str]) -> Iterator[RunningProvider]:
    command = [sys.executable, "-m", "tests.oidc_provider"]
    for uri in redirect_uris:
        command += ["--redirect-uri", uri]
    for user in users:
        command += ["--user", user]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the test identity provider did not start ({process.wait()})")
        ready = json.loads(line)
        yield RunningProvider(
            url=f"http://127.0.0.1:{ready['port']}",
            client_id=ready["client_id"],
            client_secret=ready["client_secret"],
        )
    finally:
        stop_process(process)


def sign_in_at_provider(authorize_url: str, *, username: str, password: str) -> str:
    """Follow the provider's pages as a browser would, signing in on its form; returns the
    URL it finally sends the browser back to (the app's callback, not followed)."""
    browser = requests.Session()
    page = browser.get(authorize_url, timeout=10)
    token = CSRF_FIELD.search(page.text).group(1)
    response = browser.post(
        page.url,
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    while response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        if not target.startswith(authorize_url.split("/o/")[0]):
            return target
        response = browser.get(target, allow_redirects=False, timeout=10)
    raise AssertionError(f"the provider did not send the browser back: {response.status_code}")
