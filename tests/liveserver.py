"""Run the app as people do: Daphne processes on a prepared DATA_DIR (migrate, collectstatic,
an account), configured only through environment variables. Used by the browser tests, the
two-process test and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chat.fakeupstream.testing import stop_process

REPO = Path(__file__).resolve().parents[1]
USERNAME = "tester"
PASSWORD = "e2e-password-not-secret"


@dataclass(frozen=True)
class LiveApp:
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws/chat/"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(data_dir: Path, upstream_url: str, **extra: str) -> dict[str, str]:
    """Environment for an app process talking to `upstream_url` (normally the fake upstream).
    Only DATABASE_URL / REDIS_URL given in `extra` are kept: the caller decides the topology."""
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DASHSCOPE_API_KEY": "sk-live-test",
        "DASHSCOPE_BASE_URL": upstream_url,
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "PYTHONUNBUFFERED": "1",
        # A test that provokes a 429 or 503 must not wait seconds for automatic retries.
        "UPSTREAM_RETRY_BASE_DELAY": "0.02",
        "UPSTREAM_RETRY_MAX_DELAY": "0.1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command against `env`'s DATA_DIR; returns its standard output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def prepare(env: dict[str, str]) -> None:
    """migrate, collectstatic and the test account, as a new installation would."""
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env, "createsuperuser", "--noinput", "--username", USERNAME, "--email", "t@example.com")


def _wait_healthy(app: LiveApp) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"daphne exited:\n{app.logs()}")
        try:
            with urllib.request.urlopen(f"{app.url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not become healthy:\n{app.logs()}")


@contextlib.contextmanager
def run_daphne(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[LiveApp]:
    """`port`: when the caller must know it beforehand (an SSO redirect URI names it)."""
    port = port or free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "minimax_web.asgi:application"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
        app = LiveApp(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        try:
            _wait_healthy(app)
            yield app
        finally:
            stop_process(process)


@contextlib.contextmanager
def run_served(env: dict[str, str], log_path: Path, processes: int) -> Iterator[LiveApp]:
    """The app as `make serve` runs it: supervisord handing one port to `processes` Daphne
    processes (minimax_web.serve). `app.process` is supervisord; signal it as an operator
    would. Its own process group, so nothing outlives the test."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "minimax_web.serve", "--processes", str(processes),
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        app = LiveApp(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        try:
            _wait_healthy(app)
            yield app
        finally:
            stop_process(process)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def served_processes(app: LiveApp) -> list[int]:
    """The PIDs of the Daphne processes supervisord runs for `app` (Linux /proc)."""
    pid = app.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def login_cookie(app: LiveApp, username: str = USERNAME) -> str:
    """Log in through the real login form; returns the `sessionid` cookie value."""
    import httpx

    with httpx.Client(base_url=app.url, follow_redirects=False) as client:
        client.get("/login/")
        response = client.post(
            "/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{app.url}/login/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed with {response.status_code}")
        return client.cookies["sessionid"]


async def open_socket(app: LiveApp, cookie: str):
    """A websocket to the app's /ws/chat/ as a logged-in browser tab would open it."""
    import websockets

    return await websockets.connect(
        app.ws_url, origin=app.url, additional_headers={"Cookie": f"sessionid={cookie}"}
    )


async def next_frame(socket, frame_type: str | None = None, timeout: float = 15) -> dict:
    """The next JSON frame (of `frame_type`, skipping others) within `timeout` seconds."""
    import asyncio
    import json

    deadline = time.monotonic() + timeout
    while True:
        remaining = max(0.1, deadline - time.monotonic())
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=remaining))
        if frame_type is None or frame["type"] == frame_type:
            return frame
