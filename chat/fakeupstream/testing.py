"""Run the fake upstream as a real subprocess, for any test package (no Django needed)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .server import READY_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunningFake:
    url: str  # the OpenAI base URL: http://127.0.0.1:PORT/compatible-mode/v1
    port: int
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        return self._get_json("/stats")

    def received(self) -> dict[str, Any]:
        """The chat requests it received: {"total": n, "requests": [{method, path, model}]}."""
        return self._get_json("/requests")

    def _get_json(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.origin}{path}", timeout=5) as response:
            return json.load(response)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def start_fake_upstream(
    extra_args: Sequence[str] = (), *, timeout: float = 20.0
) -> Iterator[RunningFake]:
    """Start `python -m chat.fakeupstream --port 0 …`, wait for its ready line, stop it after."""
    with tempfile.TemporaryDirectory(prefix="fakeupstream-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("w", encoding="utf-8") as log:
            process = _spawn(extra_args, log)
            try:
                url = _wait_ready(process, timeout, log_path)
                port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
                yield RunningFake(url, port, process, log_path)
            finally:
                stop_process(process)


def _spawn(extra_args: Sequence[str], log: Any) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "chat.fakeupstream", "--host", "127.0.0.1", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [*command, *extra_args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )


def _wait_ready(process: subprocess.Popen[str], timeout: float, log_path: Path) -> str:
    lines: queue.Queue[str | None] = queue.Queue()
    # The reader keeps draining stdout after the ready line so the pipe can never fill up.
    threading.Thread(target=_drain, args=(process, lines), daemon=True).start()
    try:
        while (line := lines.get(timeout=timeout)) is not None:
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip()
    except queue.Empty:
        pass
    stop_process(process)
    raise RuntimeError(f"fake upstream did not start:\n{log_path.read_text(errors='replace')}")


def _drain(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put(None)


def stop_process(process: subprocess.Popen) -> None:
    """Terminate, then kill if it does not exit within five seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
