"""A small asyncio HTTP/1.1 server around `respond`; one request per connection.

Streams are sent without Content-Length and with `Connection: close`, so the body ends when
the socket closes and a truncated stream is a clean EOF, like a proxy cutting the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import json
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass

from .recorder import CONTROL_PATHS, RequestRecorder
from .responder import FakeResponse, respond
from .scenarios import (
    AttemptCounter,
    Scenario,
    ScenarioError,
    add_scenario_arguments,
    scenario_from_cli,
)

logger = logging.getLogger("chat.fakeupstream")
READY_PREFIX = "fake upstream listening on "
API_PATH = "/compatible-mode/v1"
MAX_HEADER_LINES = 100
MAX_BODY = 64 * 1024 * 1024


@dataclass
class Stats:
    active_streams: int = 0
    completed: int = 0
    cancelled: int = 0
    requests: int = 0


class BadRequest(Exception):
    pass


@dataclass(frozen=True)
class _HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FakeUpstreamServer:
    """Connection handler plus honest counters; `GET /stats` reports them."""

    def __init__(self, base: Scenario) -> None:
        self.base = base
        self.stats = Stats()
        self.attempts = AttemptCounter()
        self.recorder = RequestRecorder()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _no_delay(writer)
        try:
            request = await _read_request(reader)
        except (BadRequest, asyncio.IncompleteReadError, ConnectionError, ValueError):
            await _close(writer, b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            return
        self.stats.requests += 1
        started = time.monotonic()
        response = await self._respond(request)
        outcome = await self._send(reader, writer, response)
        logger.info(
            "%s %s %s %s %.2fs [%s]",
            request.method,
            request.path,
            response.status,
            outcome,
            time.monotonic() - started,
            response.summary or "-",
        )

    async def _respond(self, request: _HttpRequest) -> FakeResponse:
        path = request.path.split("?", 1)[0]
        if request.method == "GET" and path == "/stats":
            return _json_response(json.dumps(asdict(self.stats)).encode())
        if request.method == "GET" and path == "/requests":
            return _json_response(self.recorder.as_json())
        if path not in CONTROL_PATHS:
            self.recorder.record(request.method, request.path, request.body)
        return await respond(
            request.method, request.path, request.headers, request.body, self.base, self.attempts
        )

    async def _send(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: FakeResponse
    ) -> str:
        if response.stream:
            self.stats.active_streams += 1
        outcome = await _send_until_disconnect(reader, writer, response)
        if response.stream:
            self.stats.active_streams -= 1
            if outcome == "completed":
                self.stats.completed += 1
            else:
                self.stats.cancelled += 1
        return outcome


def _json_response(body: bytes) -> FakeResponse:
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    return FakeResponse(200, headers, _once(body))


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _no_delay(writer: asyncio.StreamWriter) -> None:
    # Each chunk should leave at once, not wait for Nagle to batch it with the next one.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest:
    line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest(line)
    headers = await _read_headers(reader)
    if "transfer-encoding" in headers:
        raise BadRequest("chunked request bodies are not supported")
    length = int(headers.get("content-length", "0"))
    if not 0 <= length <= MAX_BODY:
        raise BadRequest("bad content-length")
    body = await reader.readexactly(length) if length else b""
    return _HttpRequest(parts[0].upper(), parts[1], headers, body)


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            return headers
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(line)
        headers[name.strip().lower()] = value.strip()
    raise BadRequest("too many headers")


def _head(response: FakeResponse) -> bytes:
    try:
        reason = http.HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_until_disconnect(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: FakeResponse
) -> str:
    """Write the response; stop generating as soon as the client goes away."""
    pump = asyncio.create_task(_pump(writer, response))
    gone = asyncio.create_task(_wait_for_eof(reader))
    try:
        await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, gone):
            task.cancel()
        results = await asyncio.gather(pump, gone, return_exceptions=True)
    await _close(writer)
    completed = pump.done() and not pump.cancelled() and results[0] is None
    return "completed" if completed else "cancelled"


async def _pump(writer: asyncio.StreamWriter, response: FakeResponse) -> None:
    try:
        writer.write(_head(response))
        await writer.drain()
        async for piece in response.chunks:
            writer.write(piece)
            await writer.drain()
    finally:
        aclose = getattr(response.chunks, "aclose", None)
        if aclose is not None:
            await aclose()


async def _wait_for_eof(reader: asyncio.StreamReader) -> None:
    # Clients send nothing after the request, so any EOF or error means they went away.
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


async def _close(writer: asyncio.StreamWriter, data: bytes = b"") -> None:
    with contextlib.suppress(ConnectionError, OSError):
        if data:
            writer.write(data)
        writer.close()
        await writer.wait_closed()


@dataclass
class RunningServer:
    server: asyncio.Server
    handler: FakeUpstreamServer
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PATH}"


async def start_server(host: str, port: int, base: Scenario) -> RunningServer:
    """Listen (port 0 = any free port) and return at once; the caller owns the server."""
    handler = FakeUpstreamServer(base)
    server = await asyncio.start_server(handler.handle, host, port)
    real_port = server.sockets[0].getsockname()[1]
    return RunningServer(server, handler, host, real_port)


async def serve(host: str, port: int, base: Scenario) -> None:
    running = await start_server(host, port, base)
    print(f"{READY_PREFIX}{running.base_url}", flush=True)
    async with running.server:
        await running.server.serve_forever()


def run(host: str, port: int, base: Scenario) -> None:
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s fakeupstream %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(host, port, base))


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chat.fakeupstream",
        description="Fake DashScope compatible-mode upstream for tests, benchmarks and demos.",
    )
    add_server_arguments(parser)
    add_scenario_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        base = scenario_from_cli(args)
    except ScenarioError as exc:
        parser.error(str(exc))
    run(args.host, args.port, base)
