"""Streaming benchmark: N concurrent answers through the real app vs. straight from the upstream.

Starts the fake upstream and the app as a real Daphne process (fresh DATA_DIR, migrate,
collectstatic, createsuperuser: the same setup as tests/liveserver.py), logs in over HTTP, opens
N websockets to /ws/chat/ and streams one answer in each, applying frames by the sequence rules
of docs/websocket-protocol.md. As a baseline, N concurrent requests with the same scenario are
read directly from the fake upstream with httpx. See bench/README.md.

    .venv/bin/python bench/stream_bench.py --streams 10 --tps 200 --tokens 400 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from autobahn.asyncio.websocket import (  # noqa: E402
    WebSocketClientFactory,
    WebSocketClientProtocol,
)

from chat.fakeupstream.testing import RunningFake, start_fake_upstream  # noqa: E402
from chat.protocol.sequence import ConversationReplica  # noqa: E402
from tests.liveserver import (  # noqa: E402
    PASSWORD,
    USERNAME,
    app_env,
    login_cookie,
    manage,
    prepare,
    run_daphne,
)

MODEL = "MiniMax-M2.5"
CLK_TCK = os.sysconf("SC_CLK_TCK")
IDLE_SECONDS = 2.0


# --- the app, as a real process ----------------------------------------------------------------


@dataclass
class App:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path

    def error_records(self) -> list[str]:
        """ERROR/CRITICAL log records of the server, each with its traceback."""
        records: list[str] = []
        current: list[str] | None = None
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line[:4].isdigit() and line[4:5] == "-":  # a new record: "2026-11-26 12:44:06,226"
                if current:
                    records.append("\n".join(current))
                bad = " ERROR " in line or " CRITICAL " in line
                current = [line] if bad else None
            elif current is not None:
                current.append(line)
        if current:
            records.append("\n".join(current))
        return records


@contextlib.contextmanager
def start_app(
    fake: RunningFake, data_dir: Path, streams: int, users: int = 1, database_url: str = ""
):
    """Daphne serving the app as the browser tests start it (tests/liveserver.py), with the
    per-user limits raised so one user may run `streams` generations at once, and `users`
    accounts (the first is the test account, the others bench2, bench3, …)."""
    env = app_env(
        data_dir,
        fake.url,
        MAX_CONCURRENT_GENERATIONS_PER_USER=str(max(streams, 1)),
        MAX_MESSAGES_PER_MINUTE="100000",
        # --database-url: the app on PostgreSQL instead of its SQLite file.
        **({"DATABASE_URL": database_url} if database_url else {}),
    )
    prepare(env)
    if users > 1:
        create = "; ".join(
            f"User.objects.create_user('bench{i}', password={PASSWORD!r})"
            for i in range(2, users + 1)
        )
        manage(
            env,
            "shell",
            "--no-imports",
            "-c",
            f"from django.contrib.auth.models import User; {create}",
        )
    with run_daphne(env, data_dir / "daphne.log") as live:
        port = int(live.url.rsplit(":", 1)[1])
        yield App(url=live.url, port=port, process=live.process, log_path=live.log_path)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def log_in(app: App, users: int) -> list[str]:
    """A session per user: the test account, then bench2, bench3, …"""
    names = [USERNAME] + [f"bench{i}" for i in range(2, users + 1)]
    return [login_cookie(app, name) for name in names]


# --- a minimal websocket client on autobahn (installed with daphne) --------------------------


class _Protocol(WebSocketClientProtocol):
    def onOpen(self) -> None:
        self.factory.connection._opened(self)

    def onMessage(self, payload: bytes, is_binary: bool) -> None:
        self.factory.connection.inbox.put_nowait((time.perf_counter(), payload))

    def onClose(self, was_clean: bool, code: int | None, reason: str | None) -> None:
        self.factory.connection._closed(code)


class WsConnection:
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        self.close_code: int | None = None
        self._protocol: _Protocol | None = None
        self._open: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, app: App, path: str, session: str) -> WsConnection:
        connection = cls()
        origin = f"http://127.0.0.1:{app.port}"
        factory = WebSocketClientFactory(
            f"ws://127.0.0.1:{app.port}{path}",
            origin=origin,
            headers={"Cookie": f"sessionid={session}"},
        )
        # The server validates what it sends; skip the client-side re-check to save client CPU.
        factory.setProtocolOptions(utf8validateIncoming=False, tcpNoDelay=True)
        factory.protocol = _Protocol
        factory.connection = connection
        loop = asyncio.get_running_loop()
        await loop.create_connection(factory, "127.0.0.1", app.port)
        await asyncio.wait_for(connection._open, 20)
        return connection

    def _opened(self, protocol: _Protocol) -> None:
        self._protocol = protocol
        if not self._open.done():
            self._open.set_result(None)

    def _closed(self, code: int | None) -> None:
        self.close_code = code
        if not self._open.done():
            self._open.set_exception(ConnectionError(f"websocket closed: {code}"))
        self.inbox.put_nowait(None)

    def send(self, frame: dict) -> None:
        assert self._protocol is not None
        self._protocol.sendMessage(json.dumps(frame).encode())

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.sendClose(1000)


# --- one stream through the app -------------------------------------------------------------


@dataclass
class AppStream:
    ok: bool = False
    # send -> the stored messages reach the client: messages.added, or for a new conversation
    # its snapshot, which carries them first
    added: float | None = None
    ttfd: float | None = None  # send -> first delta frame
    ttft: float | None = None  # send -> first delta frame carrying text (time to first token)
    last_delta: float | None = None  # send -> last delta frame
    total: float | None = None  # send -> end frame
    frames: int = 0  # every frame received after `send`
    delta_frames: int = 0
    other_frames: int = 0  # sidebar frames from the user's other sockets, etc.
    chars: int = 0  # reasoning + content characters in the deltas applied
    gaps: int = 0
    ignored_old: int = 0  # delta/end with seq <= the last applied (dropped as duplicates)
    unknown_message: int = 0  # delta/end for a message not yet known (no messages.added)
    resubscribes: int = 0
    mismatch: bool = False  # assembled text != the end message's text
    status: str = ""
    error: str = ""
    content: str = field(default="", repr=False)
    reasoning: str = field(default="", repr=False)


def prompt_text(args: argparse.Namespace) -> str:
    reasoning, answer = args.tokens // 2, args.tokens - args.tokens // 2
    return f"bench [[fake tps={args.tps:g} reasoning={reasoning} tokens={answer} answer=long]]"


async def app_stream(
    ws: WsConnection, text: str, start: asyncio.Event, deadline: float, client_id: str
) -> AppStream:
    """Send `text` in a new conversation and apply frames (ConversationReplica) until `end`."""
    result = AppStream()
    replica = ConversationReplica()
    target: int | None = None
    await start.wait()
    sent = time.perf_counter()
    ws.send({"type": "send", "conversation_id": None, "content": text, "client_id": client_id})
    while True:
        try:
            item = await asyncio.wait_for(ws.inbox.get(), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            result.error = "timeout"
            break
        if item is None:
            result.error = f"socket closed ({ws.close_code})"
            break
        at, payload = item
        frame = json.loads(payload)
        result.frames += 1
        kind = frame.get("type")
        if kind == "error":
            result.error = f"error frame: {frame.get('code')}: {frame.get('message')}"
            break
        if kind == "conversation.created" and frame.get("client_id") == client_id:
            continue
        if kind not in ("snapshot", "messages.added", "delta", "end"):
            result.other_frames += 1  # sidebar frames from the user's other sockets, etc.
            continue
        before = replica.message(frame["message_id"]) if kind == "end" else None
        before_text = (before["content"], before["reasoning"]) if before else None
        if replica.apply(frame):
            ws.send({"type": "subscribe", "conversation_id": replica.conversation_id})
        if kind == "messages.added" and replica.applied:
            if result.added is None:
                result.added = at - sent
            target = replica.last_message("assistant")["id"]
        elif kind == "snapshot":
            assistant = replica.last_message("assistant")
            target = assistant["id"] if assistant else target
            # A new conversation's snapshot already carries the stored messages (the
            # messages.added that follows it is then a duplicate the replica ignores).
            if assistant is not None and result.added is None:
                result.added = at - sent
        elif kind == "delta" and replica.applied:
            result.delta_frames += 1
            if result.ttfd is None:
                result.ttfd = at - sent
            pieces = len(frame["reasoning"]) + len(frame["content"])
            if pieces and result.ttft is None:
                result.ttft = at - sent
            result.last_delta = at - sent
            result.chars += pieces
        elif kind == "end" and replica.applied and frame["message_id"] == target:
            final = frame["message"]
            result.total = at - sent
            result.status = final["status"]
            result.mismatch = before_text != (final["content"], final["reasoning"])
            result.content, result.reasoning = final["content"], final["reasoning"]
            result.ok = final["status"] == "complete"
            if final["status"] != "complete":
                result.error = f"status {final['status']}: {final.get('error')}"
            break
    result.gaps = replica.gaps - replica.deltas_before_added
    result.ignored_old = replica.ignored_old
    result.unknown_message = replica.deltas_before_added
    result.resubscribes = replica.resubscribes
    return result


async def run_app_round(app: App, sessions: list[str], args: argparse.Namespace) -> dict:
    sockets = await asyncio.gather(
        *(
            WsConnection.open(app, "/ws/chat/", sessions[i % len(sessions)])
            for i in range(args.streams)
        )
    )
    # Let the connects settle (each joins the user's group) before the clock starts.
    await asyncio.sleep(0.2)
    start = asyncio.Event()
    deadline = time.monotonic() + args.timeout
    tasks = [
        asyncio.create_task(app_stream(ws, prompt_text(args), start, deadline, f"bench-{index}"))
        for index, ws in enumerate(sockets)
    ]
    cpu_before = cpu_seconds(app.process.pid)
    client_before = time.process_time()
    wall_before = time.perf_counter()
    start.set()
    streams = await asyncio.gather(*tasks)
    wall = time.perf_counter() - wall_before
    cpu = cpu_seconds(app.process.pid) - cpu_before
    client_cpu = time.process_time() - client_before
    for ws in sockets:
        ws.close()
    await asyncio.sleep(0.2)
    return {"streams": streams, "app_cpu": cpu, "client_cpu": client_cpu, "wall": wall}


# --- one stream straight from the upstream --------------------------------------------------


@dataclass
class UpstreamStream:
    ok: bool = False
    ttft: float | None = None  # request -> first token chunk
    total: float | None = None  # request -> [DONE]
    chunks: int = 0  # `data:` events other than [DONE]
    token_chunks: int = 0  # chunks carrying reasoning or answer text
    chars: int = 0
    error: str = ""
    content: str = field(default="", repr=False)
    reasoning: str = field(default="", repr=False)


async def upstream_stream(client: httpx.AsyncClient, url: str, text: str, start: asyncio.Event):
    result = UpstreamStream()
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": "Bearer sk-bench", "Accept": "text/event-stream"}
    content: list[str] = []
    reasoning: list[str] = []
    await start.wait()
    sent = time.perf_counter()
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code != 200:
                result.error = f"HTTP {response.status_code}"
                return result
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    result.total = time.perf_counter() - sent
                    result.ok = True
                    break
                result.chunks += 1
                chunk = json.loads(data)
                if not chunk.get("choices"):
                    continue
                delta = chunk["choices"][0].get("delta") or {}
                piece_r = delta.get("reasoning_content") or ""
                piece_c = delta.get("content") or ""
                if piece_r or piece_c:
                    result.token_chunks += 1
                    if result.ttft is None:
                        result.ttft = time.perf_counter() - sent
                    result.chars += len(piece_r) + len(piece_c)
                    reasoning.append(piece_r)
                    content.append(piece_c)
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.content, result.reasoning = "".join(content), "".join(reasoning)
    return result


async def run_upstream_round(fake: RunningFake, args: argparse.Namespace) -> dict:
    limits = httpx.Limits(max_connections=args.streams + 5, max_keepalive_connections=0)
    timeout = httpx.Timeout(args.timeout, connect=10)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        start = asyncio.Event()
        url = f"{fake.url}/chat/completions"
        tasks = [
            asyncio.create_task(upstream_stream(client, url, prompt_text(args), start))
            for _ in range(args.streams)
        ]
        await asyncio.sleep(0.05)
        fake_before = cpu_seconds(fake.process.pid)
        client_before = time.process_time()
        wall_before = time.perf_counter()
        start.set()
        streams = await asyncio.gather(*tasks)
        wall = time.perf_counter() - wall_before
        return {
            "streams": streams,
            "fake_cpu": cpu_seconds(fake.process.pid) - fake_before,
            "client_cpu": time.process_time() - client_before,
            "wall": wall,
        }


# --- statistics and report ------------------------------------------------------------------


def spread(values: list[float | int | None]) -> dict[str, float] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def percentile(values: list[float | None], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks (numpy's default)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    rank = (len(values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def p50_p99(values: list[float | None]) -> dict[str, float | None]:
    return {"p50": percentile(values, 50), "p99": percentile(values, 99)}


def latency(app: list[AppStream], up: list[UpstreamStream]) -> dict[str, dict]:
    """Time to first token of the app and of the upstream alone (same prompt, same run), and
    what the app adds: app percentile minus upstream percentile (NOT per-stream differences:
    the two are measured on different streams)."""
    app_ttft = p50_p99([s.ttft for s in app])
    up_ttft = p50_p99([s.ttft for s in up])
    added = {
        k: app_ttft[k] - up_ttft[k] if app_ttft[k] is not None and up_ttft[k] is not None else None
        for k in ("p50", "p99")
    }
    return {
        "app_ttft_s": app_ttft,
        "upstream_ttft_s": up_ttft,
        "added_ttft_s": added,
        "messages_added_s": p50_p99([s.added for s in app]),
    }


def fmt(stats: dict | None, scale: float = 1.0, digits: int = 0) -> str:
    if stats is None:
        return "-"
    m, lo, hi = (stats[k] * scale for k in ("median", "min", "max"))
    return f"{m:.{digits}f} [{lo:.{digits}f}-{hi:.{digits}f}]"


def _ratio_of_medians(a: dict | None, b: dict | None) -> float | None:
    return a["median"] / b["median"] if a and b and b["median"] else None


def summarize(args: argparse.Namespace, app_rounds: list[dict], up_rounds: list[dict]) -> dict:
    app = [s for r in app_rounds for s in r["streams"]]
    up = [s for r in up_rounds for s in r["streams"]]
    expected = next((s for s in up if s.ok), None)
    text_vs_upstream = sum(
        1
        for s in app
        if s.ok
        and expected is not None
        and (s.content != expected.content or s.reasoning != expected.reasoning)
    )
    app_total = spread([s.total for s in app])
    app_streaming = spread(
        [s.last_delta - s.ttfd for s in app if s.ttfd is not None and s.last_delta]
    )
    up_streaming = spread([s.total - s.ttft for s in up if s.total and s.ttft])
    up_total = spread([s.total for s in up])
    ratio = None
    if app_total and up_total:
        base = up_total["median"]
        ratio = {
            "median": app_total["median"] / base,
            "min": app_total["min"] / base,
            "max": app_total["max"] / base,
        }
    # Coalescing: upstream token chunks per app delta frame (per stream, median).
    token_chunks = statistics.median([s.token_chunks for s in up]) if up else 0
    coalescing = spread(
        [token_chunks / s.delta_frames for s in app if s.ok and s.delta_frames] or [None]
    )
    per_stream_cpu = [r["app_cpu"] / args.streams for r in app_rounds]
    return {
        "latency": latency(app, up),
        "app": {
            "added_s": spread([s.added for s in app]),
            "ttfd_s": spread([s.ttfd for s in app]),
            "ttft_s": spread([s.ttft for s in app]),
            "last_delta_s": spread([s.last_delta for s in app]),
            "streaming_s": app_streaming,
            "end_after_last_delta_s": spread(
                [s.total - s.last_delta for s in app if s.total and s.last_delta]
            ),
            "total_s": app_total,
            "frames": spread([s.frames for s in app]),
            "delta_frames": spread([s.delta_frames for s in app]),
            "other_frames": spread([s.other_frames for s in app]),
            "chars": spread([s.chars for s in app]),
            "cpu_per_stream_s": spread(per_stream_cpu),
            "client_cpu": spread([r["client_cpu"] for r in app_rounds]),
            "wall_s": spread([r["wall"] for r in app_rounds]),
        },
        "upstream": {
            "ttft_s": spread([s.ttft for s in up]),
            "total_s": up_total,
            "streaming_s": up_streaming,
            "chunks": spread([s.chunks for s in up]),
            "token_chunks": spread([s.token_chunks for s in up]),
            "chars": spread([s.chars for s in up]),
            "fake_cpu_per_stream_s": spread([r["fake_cpu"] / args.streams for r in up_rounds]),
            "client_cpu": spread([r["client_cpu"] for r in up_rounds]),
            "wall_s": spread([r["wall"] for r in up_rounds]),
        },
        "ratio_total": ratio,
        "ratio_streaming": _ratio_of_medians(app_streaming, up_streaming),
        "chunks_per_frame": coalescing,
        "frames_per_chunk": (1 / coalescing["median"]) if coalescing else None,
        "integrity": {
            "app_streams": len(app),
            "app_failed": sum(1 for s in app if not s.ok),
            "app_errors": sorted({s.error for s in app if s.error}),
            "mismatch_vs_end": sum(1 for s in app if s.mismatch),
            "mismatch_vs_upstream": text_vs_upstream,
            "seq_gaps": sum(s.gaps for s in app),
            "ignored_old_seq": sum(s.ignored_old for s in app),
            "delta_before_messages_added": sum(s.unknown_message for s in app),
            "upstream_streams": len(up),
            "upstream_failed": sum(1 for s in up if not s.ok),
        },
    }


def print_report(args: argparse.Namespace, summary: dict, app_errors: list[str]) -> None:
    a, u, i = summary["app"], summary["upstream"], summary["integrity"]
    idle = summary["server_idle_cpu_ms_per_s"]
    rows = [
        ("send -> messages.added (ms)", fmt(a["added_s"], 1000), "-"),
        ("time to first token (ms)", fmt(a["ttft_s"], 1000), fmt(u["ttft_s"], 1000)),
        ("last delta (s)", fmt(a["last_delta_s"], 1, 2), "-"),
        (
            "streaming: first->last token (s)",
            fmt(a["streaming_s"], 1, 2),
            fmt(u["streaming_s"], 1, 2),
        ),
        ("end frame after last delta (ms)", fmt(a["end_after_last_delta_s"], 1000), "-"),
        ("total (s)", fmt(a["total_s"], 1, 2), fmt(u["total_s"], 1, 2)),
        ("frames / chunks", fmt(a["frames"]), fmt(u["chunks"])),
        ("  delta frames / token chunks", fmt(a["delta_frames"]), fmt(u["token_chunks"])),
        ("characters", fmt(a["chars"]), fmt(u["chars"])),
        ("server CPU per stream (ms)", fmt(a["cpu_per_stream_s"], 1000), "-"),
        ("server CPU when idle (ms per s)", f"{idle:.0f}", "-"),
        ("fake upstream CPU per stream (ms)", "-", fmt(u["fake_cpu_per_stream_s"], 1000)),
        ("bench client CPU per round (ms)", fmt(a["client_cpu"], 1000), fmt(u["client_cpu"], 1000)),
    ]
    print(
        f"\nstreams={args.streams} tps={args.tps:g} tokens={args.tokens} repeat={args.repeat}"
        f" users={args.users}"
        f"  (median [min-max] over {args.streams * args.repeat} streams)"
    )
    print(f"{'':36} {'app (websocket)':>24} {'upstream (httpx)':>24}")
    for label, app_value, up_value in rows:
        print(f"{label:36} {app_value:>24} {up_value:>24}")
    print(
        f"integrity: failed={i['app_failed']}/{i['app_streams']} "
        f"mismatch_vs_end={i['mismatch_vs_end']} mismatch_vs_upstream={i['mismatch_vs_upstream']} "
        f"seq_gaps={i['seq_gaps']} ignored_old_seq={i['ignored_old_seq']} "
        f"delta_before_messages_added={i['delta_before_messages_added']} "
        f"upstream_failed={i['upstream_failed']} server_log_errors={len(app_errors)}"
    )
    for error in i["app_errors"]:
        print(f"  app error: {error}")
    kinds: dict[str, int] = {}
    for record in app_errors:
        first = record.splitlines()[0].split(" ", 2)[-1]  # without the timestamp
        kinds[first] = kinds.get(first, 0) + 1
    for first, count in sorted(kinds.items()):
        print(f"  server log x{count}: {first}")
    print_latency(summary["latency"])
    r, c = summary["ratio_total"], summary["chunks_per_frame"]
    ratio = fmt(r, 1, 2) if r else "-"
    chunks = fmt(c, 1, 1) if c else "-"
    cpu = fmt(a["cpu_per_stream_s"], 1000)
    ratio_streaming = summary["ratio_streaming"]
    stream_ratio = f"{ratio_streaming:.2f}x" if ratio_streaming else "-"
    print(
        f"SUMMARY streams={args.streams} tps={args.tps:g} tokens={args.tokens} users={args.users}: "
        f"app/upstream total = {ratio}x (streaming part {stream_ratio}), "
        f"{chunks} upstream chunks per frame, "
        f"server CPU {cpu} ms/stream, mismatches={i['mismatch_vs_end']}, gaps={i['seq_gaps']}"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def print_latency(lat: dict) -> None:
    app, up, added = lat["app_ttft_s"], lat["upstream_ttft_s"], lat["added_ttft_s"]
    sent = lat["messages_added_s"]
    print(
        f"LATENCY time to first token p50/p99 (ms): app {_ms(app['p50'])} / {_ms(app['p99'])}, "
        f"upstream {_ms(up['p50'])} / {_ms(up['p99'])}"
    )
    print(
        f"LATENCY added time to first token (ms): p50 {_ms(added['p50'])}, "
        f"p99 {_ms(added['p99'])}  (app percentile - upstream percentile)"
    )
    print(f"LATENCY send -> messages.added (ms): p50 {_ms(sent['p50'])}, p99 {_ms(sent['p99'])}")


def _jsonable(rounds: list[dict]) -> list[dict]:
    return [
        {**{k: v for k, v in r.items() if k != "streams"}, "streams": [
            {k: v for k, v in asdict(s).items() if k not in ("content", "reasoning")}
            for s in r["streams"]
        ]}
        for r in rounds
    ]  # fmt: skip


async def run(args: argparse.Namespace) -> int:
    with (
        start_fake_upstream() as fake,
        tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp,
        start_app(fake, Path(tmp), args.streams, args.users, args.database_url) as app,
    ):
        sessions = await asyncio.to_thread(log_in, app, args.users)
        # Warm-up: one stream each way (first-request imports, SQLite caches, connections).
        warm = argparse.Namespace(**{**vars(args), "streams": 1, "tokens": 4})
        await run_upstream_round(fake, warm)
        await run_app_round(app, sessions, warm)
        idle_before = cpu_seconds(app.process.pid)
        await asyncio.sleep(IDLE_SECONDS)
        idle = (cpu_seconds(app.process.pid) - idle_before) / IDLE_SECONDS
        app_rounds, up_rounds = [], []
        for index in range(args.repeat):
            up_rounds.append(await run_upstream_round(fake, args))
            app_rounds.append(await run_app_round(app, sessions, args))
            print(
                f"round {index + 1}/{args.repeat}: upstream {up_rounds[-1]['wall']:.2f}s, "
                f"app {app_rounds[-1]['wall']:.2f}s",
                file=sys.stderr,
            )
        app_errors = app.error_records()
        if args.keep_log:
            shutil.copyfile(app.log_path, args.keep_log)
        summary = summarize(args, app_rounds, up_rounds)
        summary["server_idle_cpu_ms_per_s"] = idle * 1000
        print_report(args, summary, app_errors)
        if args.json:
            report = {
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "config": {k: v for k, v in vars(args).items() if k not in ("json", "keep_log")},
                "prompt": prompt_text(args),
                "summary": summary,
                "server_log_errors": app_errors,
                "app_rounds": _jsonable(app_rounds),
                "upstream_rounds": _jsonable(up_rounds),
            }
            text = json.dumps(report, indent=2) + "\n"
            await asyncio.to_thread(Path(args.json).write_text, text)
        integrity = summary["integrity"]
        bad = (
            integrity["app_failed"]
            + integrity["mismatch_vs_end"]
            + integrity["mismatch_vs_upstream"]
            + integrity["seq_gaps"]
            + integrity["upstream_failed"]
        )
        return 1 if bad else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1, help="concurrent streams (default 1)")
    parser.add_argument("--tps", type=float, default=200, help="upstream tokens per second")
    parser.add_argument("--tokens", type=int, default=400, help="tokens per answer (half thinking)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each kind (default 3)")
    parser.add_argument(
        "--database-url",
        default="",
        help="run the app on this database (e.g. an empty PostgreSQL database) instead of SQLite",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=1,
        help="accounts the streams are spread over (default 1: every stream is a tab of one "
        "user, so each socket also gets the sidebar frames of all the others)",
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds allowed per round")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this file")
    parser.add_argument("--keep-log", metavar="PATH", help="copy the Daphne log to this file")
    args = parser.parse_args(argv)
    if args.streams < 1 or args.tokens < 2 or args.repeat < 1 or args.tps <= 0 or args.users < 1:
        parser.error("need --streams, --repeat, --users >= 1, --tokens >= 2, --tps > 0")
    return args


def main() -> int:
    return asyncio.run(run(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
