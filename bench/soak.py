"""Soak run: N conversations streaming at once for M minutes while the clients misbehave.

Starts the fake upstream and the app as a real Daphne process (tests/liveserver.py), like
bench/stream_bench.py. Each client is one browser tab of one of several users: it sends
messages (in its conversation, sometimes in a new one), and while an answer streams it may
reload (close the socket, open a new one, subscribe), disconnect and come back after a pause,
or press Stop; once an answer has ended it may retry it. Frames are applied with
chat.protocol.sequence.ConversationReplica. When the time is up the clients leave; once every
generation has ended, each stored assistant message is compared (read-only sqlite3 on the app's
DATA_DIR) with the fake upstream's deterministic text for its prompt, and with what the clients
last saw of it. See bench/README.md.

    .venv/bin/python bench/soak.py --conversations 10 --minutes 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


from chat.fakeupstream.scenarios import Scenario, prompt_of, scenario_from  # noqa: E402
from chat.fakeupstream.testing import start_fake_upstream  # noqa: E402
from chat.fakeupstream.texts import answer_text, reasoning_text  # noqa: E402
from chat.protocol.sequence import ConversationReplica  # noqa: E402
from tests.liveserver import (  # noqa: E402
    LiveApp,
    app_env,
    login_cookie,
    manage,
    open_socket,
    prepare,
    run_daphne,
)

MAX_DOUBLED = 400  # longest repeated piece compare() looks for
SEP = "\x1f"  # between reasoning and answer when comparing texts as one string
STALL_SECONDS = 30.0  # no frame for this long while an answer streams: re-subscribe
SETTLE_SECONDS = 120.0  # after the clients left, how long generations may take to end
IDLE_SECONDS = 5.0  # then this long idle before the "after" RSS


# --- texts ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def expected_text(prompt: str) -> tuple[str, str]:
    """(reasoning, answer) the fake upstream streams for a conversation whose last user message
    is `prompt` (the server runs with the default scenario; the prompt's marker overrides)."""
    messages = [{"role": "user", "content": prompt}]
    scenario = scenario_from({}, messages, Scenario())
    return reasoning_text(scenario, prompt_of(messages)), answer_text(scenario, prompt_of(messages))


def joined(reasoning: str, content: str) -> str:
    """One string whose prefixes are exactly the states a streaming message passes through."""
    return reasoning + (SEP + content if content else "")


def compare(got: str, full: str) -> str:
    """equal | prefix | longer (full is a proper prefix of got) | doubled | corrupted.

    doubled: removing one repeated piece (a piece equal to the text right before it, up to
    MAX_DOUBLED characters, where `got` departs from `full`) makes `got` a prefix of `full`,
    as when a delta is applied twice; or, for longer replays, the text after the departure is
    text `got` already showed. Anything else is corrupted."""
    if got == full:
        return "equal"
    if full.startswith(got):
        return "prefix"
    if got.startswith(full):
        return "longer"
    common = 0
    for a, b in zip(got, full, strict=False):
        if a != b:
            break
        common += 1
    for k in range(1, min(common, MAX_DOUBLED) + 1):
        for start in range(max(k, common - k), common + 1):
            if got[start : start + k] == got[start - k : start] and full.startswith(
                got[:start] + got[start + k :]
            ):
                return "doubled"
    tail = got[common : common + 32]
    return "doubled" if len(tail) >= 8 and tail in got[:common] else "corrupted"


def prompt_for(args: argparse.Namespace, rng: random.Random, label: str) -> str:
    reasoning = rng.randint(args.reasoning // 2, args.reasoning)
    answer = rng.randint(args.answer // 2, args.answer)
    return (
        f"soak {label} [[fake tps={args.tps:g} reasoning={reasoning} tokens={answer} answer=long]]"
    )


# --- process info -----------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    import os

    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- one client -------------------------------------------------------------------------------


@dataclass
class Seen:
    """What a client last showed of one assistant message."""

    reasoning: str
    content: str
    status: str
    client: int


@dataclass
class Stats:
    actions: Counter = field(default_factory=Counter)  # sent, retried, reload, stop, …
    ended: Counter = field(default_factory=Counter)  # statuses of the ends the clients saw
    errors: Counter = field(default_factory=Counter)  # error frames by code
    protocol: Counter = field(default_factory=Counter)  # replica counters, summed
    seen: dict[int, list[Seen]] = field(default_factory=dict)


class Client:
    def __init__(self, index: int, app: LiveApp, cookie: str, args, stats: Stats, deadline):
        self.index = index
        self.app = app
        self.cookie = cookie
        self.args = args
        self.stats = stats
        self.deadline = deadline
        self.rng = random.Random(f"{args.seed}-{index}")
        self.ws = None
        self.replica = ConversationReplica()
        self.conversation_id: int | None = None
        self.messages_sent = 0

    # -- socket -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self.ws = await open_socket(self.app, self.cookie)
        self._retire_replica()
        if self.conversation_id is not None:
            await self.send({"type": "subscribe", "conversation_id": self.conversation_id})

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None

    def _retire_replica(self) -> None:
        r = self.replica
        for name in ("gaps", "deltas_before_added", "ignored_old", "resubscribes", "snapshots"):
            self.stats.protocol[name] += getattr(r, name)
        self.replica = ConversationReplica(self.conversation_id)

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def receive(self, timeout: float) -> dict | None:
        try:
            return json.loads(await asyncio.wait_for(self.ws.recv(), max(0.01, timeout)))
        except asyncio.TimeoutError:
            return None

    def _record(self, frame: dict) -> None:
        if not self.replica.applied:
            return
        kind = frame["type"]
        if kind in ("delta", "end"):
            ids = [frame["message_id"]]
        elif kind == "message.reset":
            ids = [frame["message"]["id"]]
        elif kind in ("snapshot", "messages.added", "history"):
            ids = [m["id"] for m in frame["messages"] if m.get("role") == "assistant"]
        else:
            return
        for message_id in ids:
            message = self.replica.message(message_id)
            if message is None:
                continue
            seen = Seen(message["reasoning"], message["content"], message["status"], self.index)
            records = self.stats.seen.setdefault(message_id, [])
            # One record per client: the latest.
            records[:] = [r for r in records if r.client != self.index] + [seen]

    # -- the life of a tab ---------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self.connect()
            while time.monotonic() < self.deadline:
                await self.one_answer()
                pause = self.rng.uniform(0.2, 1.5)
                if time.monotonic() + pause < self.deadline:
                    await asyncio.sleep(pause)
        finally:
            await self.close()
            self._retire_replica()

    def _last_assistant(self) -> dict | None:
        return self.replica.last_message("assistant")

    async def one_answer(self) -> None:
        """Start an answer (send, new conversation, or retry) and follow it until it ends,
        misbehaving once on the way."""
        rng = self.rng
        last = self._last_assistant()
        ended = last is not None and last["status"] != "streaming"
        self.messages_sent += 1
        label = f"c{self.index}-m{self.messages_sent}"
        retry_id = None
        if self.conversation_id is None or rng.random() < 0.1:
            client_id = f"soak-{label}"
            self.stats.actions["new_conversation"] += 1
            await self.send(
                {
                    "type": "send",
                    "conversation_id": None,
                    "content": prompt_for(self.args, rng, label),
                    "client_id": client_id,
                }
            )
        elif ended and rng.random() < 0.2:
            retry_id = last["id"]
            client_id = None
            self.stats.actions["retry"] += 1
            await self.send({"type": "retry", "message_id": retry_id})
        else:
            client_id = None
            self.stats.actions["send"] += 1
            await self.send(
                {
                    "type": "send",
                    "conversation_id": self.conversation_id,
                    "content": prompt_for(self.args, rng, label),
                }
            )
        known = set(self.replica.messages)
        plan = rng.choices(["none", "reload", "disconnect", "stop"], weights=[40, 25, 20, 15])[0]
        plan_at = time.monotonic() + rng.uniform(0.1, 3.0)
        target: int | None = None
        last_frame = time.monotonic()
        while time.monotonic() < self.deadline:
            now = time.monotonic()
            if plan != "none" and now >= plan_at and target is not None:
                await self.misbehave(plan)
                plan = "none"
                last_frame = time.monotonic()
                continue
            wait = (plan_at - now) if plan != "none" and target is not None else 1.0
            frame = await self.receive(min(wait, self.deadline - now, 1.0))
            if frame is None:
                if time.monotonic() - last_frame > STALL_SECONDS:
                    self.stats.actions["stall"] += 1
                    if target is None:
                        return
                    await self.send({"type": "subscribe", "conversation_id": self.conversation_id})
                    last_frame = time.monotonic()
                continue
            last_frame = time.monotonic()
            kind = frame["type"]
            if kind == "error":
                self.stats.errors[frame["code"]] += 1
                if target is None:
                    return
                continue
            if kind == "conversation.created" and client_id and frame.get("client_id") == client_id:
                self.conversation_id = frame["conversation"]["id"]
                continue
            if self.replica.apply(frame):
                await self.send({"type": "subscribe", "conversation_id": self.conversation_id})
            self._record(frame)
            if target is None:
                if retry_id is not None and kind == "message.reset":
                    target = retry_id if frame["message"]["id"] == retry_id else None
                elif retry_id is None and kind == "messages.added" and self.replica.applied:
                    newest = self._last_assistant()
                    if newest is not None and newest["id"] not in known:
                        target = newest["id"]
                continue
            message = self.replica.message(target)
            if message is not None and message["status"] != "streaming":
                self.stats.ended[message["status"]] += 1
                return

    async def misbehave(self, plan: str) -> None:
        self.stats.actions[plan] += 1
        if plan == "stop":
            await self.send({"type": "stop", "conversation_id": self.conversation_id})
            return
        await self.close()
        if plan == "disconnect":
            await asyncio.sleep(self.rng.uniform(0.5, 4.0))
        await self.connect()


# --- the run ----------------------------------------------------------------------------------


async def sample_rss(
    pid: int, peak: list[float], stop: asyncio.Event, timeline: list[tuple[float, float]]
) -> None:
    """Track the peak every 0.5 s, and every 30 s note (seconds, RSS) in `timeline`: a
    plateau means warm-up (allocator arenas, caches), a climb would mean a leak."""
    started = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(OSError):
            rss = rss_mib(pid)
            peak[0] = max(peak[0], rss)
            elapsed = time.monotonic() - started
            if not timeline or elapsed - timeline[-1][0] >= 30:
                timeline.append((round(elapsed), rss))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def read_store(db_path: Path) -> list[dict]:
    """Every assistant message with the text of the user message before it (read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT id, conversation_id, role, content, reasoning, status FROM chat_message "
            "ORDER BY conversation_id, id"
        ).fetchall()
    stored, prompt, conversation = [], "", None
    for message_id, conversation_id, role, content, reasoning, status in rows:
        if conversation_id != conversation:
            conversation, prompt = conversation_id, ""
        if role == "user":
            prompt = content
        else:
            stored.append(
                {
                    "id": message_id,
                    "prompt": prompt,
                    "content": content,
                    "reasoning": reasoning,
                    "status": status,
                }
            )
    return stored


def streaming_rows(db_path: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        return db.execute(
            "SELECT COUNT(*) FROM chat_message WHERE status = 'streaming'"
        ).fetchone()[0]


def check(stored: list[dict], stats: Stats) -> dict:
    counts: Counter = Counter()
    problems: list[str] = []
    by_id = {m["id"]: m for m in stored}
    for message in stored:
        status = message["status"]
        counts[status] += 1
        full = joined(*expected_text(message["prompt"]))
        verdict = compare(joined(message["reasoning"], message["content"]), full)
        ok = verdict == "equal" if status == "complete" else verdict in ("equal", "prefix")
        if not ok:
            kind = "doubled" if verdict == "doubled" else "corrupted"
            counts[kind] += 1
            problems.append(f"{kind}: stored message {message['id']} ({status}) is {verdict}")
    for message_id, records in stats.seen.items():
        message = by_id.get(message_id)
        for seen in records:
            counts["client_views"] += 1
            shown = joined(seen.reasoning, seen.content)
            if message is None:
                counts["lost"] += 1
                problems.append(f"lost: client {seen.client} saw message {message_id}, not stored")
                continue
            verdict = compare(shown, joined(message["reasoning"], message["content"]))
            if verdict in ("equal", "prefix"):
                continue
            kind = {"longer": "lost", "doubled": "doubled"}.get(verdict, "corrupted")
            counts[kind] += 1
            problems.append(
                f"{kind}: client {seen.client} showed message {message_id} ({seen.status}) "
                f"{verdict} vs stored ({message['status']})"
            )
    return {"counts": counts, "problems": problems}


async def run(args: argparse.Namespace) -> int:
    users = max(1, -(-args.conversations // args.per_user))
    with (
        start_fake_upstream() as fake,
        tempfile.TemporaryDirectory(prefix="soak-") as tmp,
    ):
        data_dir = Path(tmp)
        env = app_env(
            data_dir,
            fake.url,
            MAX_CONCURRENT_GENERATIONS_PER_USER="1000",
            MAX_MESSAGES_PER_MINUTE="100000",
        )
        prepare(env)
        names = [f"soak{k}" for k in range(users)]
        for name in names:
            manage(env, "createsuperuser", "--noinput", "--username", name, "--email", "s@x.org")
        with run_daphne(env, data_dir / "daphne.log") as app:
            pid = app.process.pid
            cookies = [await asyncio.to_thread(login_cookie, app, name) for name in names]
            # Warm-up: one short answer (imports, first queries), then the "start" RSS.
            warm_stats = Stats()
            warm = Client(-1, app, cookies[0], args, warm_stats, time.monotonic() + 30)
            await warm.connect()
            await warm.send(
                {
                    "type": "send",
                    "conversation_id": None,
                    "content": "warm-up [[fake tps=0 reasoning=5 tokens=5]]",
                }
            )
            while (frame := await warm.receive(30)) is not None and frame["type"] != "end":
                pass
            await warm.close()
            await asyncio.sleep(1)
            rss_start = rss_mib(pid)
            cpu_start = cpu_seconds(pid)
            peak = [rss_start]
            timeline: list[tuple[float, float]] = []
            stop_sampling = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(pid, peak, stop_sampling, timeline))
            stats = Stats()
            started = time.monotonic()
            deadline = started + args.minutes * 60
            clients = [
                Client(i, app, cookies[i % users], args, stats, deadline)
                for i in range(args.conversations)
            ]
            results = await asyncio.gather(*(c.run() for c in clients), return_exceptions=True)
            crashed = [r for r in results if isinstance(r, BaseException)]
            for error in crashed:
                print(f"client crashed: {type(error).__name__}: {error}", file=sys.stderr)
            left = time.monotonic()
            db_path = data_dir / "db.sqlite3"
            streaming_when_left = streaming_rows(db_path)
            while streaming_rows(db_path) and time.monotonic() - left < SETTLE_SECONDS:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
            settle = time.monotonic() - left
            still_streaming = streaming_rows(db_path)
            await asyncio.sleep(IDLE_SECONDS)
            stop_sampling.set()
            await sampler
            rss_after = rss_mib(pid)
            cpu = cpu_seconds(pid) - cpu_start
            wall = time.monotonic() - started
            result = check(read_store(db_path), stats)
            log_errors = [
                line
                for line in app.logs().splitlines()
                if " ERROR " in line or " CRITICAL " in line
            ]
    counts = result["counts"]
    report = {
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "users": users,
        "stored": {k: counts[k] for k in ("complete", "stopped", "interrupted", "failed")},
        "streaming_when_clients_left": streaming_when_left,
        "still_streaming": still_streaming,
        "lost": counts["lost"],
        "doubled": counts["doubled"],
        "corrupted": counts["corrupted"],
        "client_views_checked": counts["client_views"],
        "ends_seen_by_clients": dict(stats.ended),
        "actions": dict(stats.actions),
        "error_frames": dict(stats.errors),
        "protocol": dict(stats.protocol),
        "client_crashes": [f"{type(e).__name__}: {e}" for e in crashed],
        "server_log_errors": log_errors,
        "rss_mib": {"start": rss_start, "peak": peak[0], "after": rss_after},
        "rss_timeline": timeline,
        "server_cpu_s": cpu,
        "wall_s": wall,
        "settle_s": settle,
        "problems": result["problems"],
    }
    print_report(report)
    if args.json:
        text = json.dumps(report, indent=2) + "\n"
        await asyncio.to_thread(Path(args.json).write_text, text)
    bad = report["lost"] + report["doubled"] + report["corrupted"]
    return 1 if bad else 0


def print_report(r: dict) -> None:
    c = r["config"]
    print(
        f"\nsoak: {c['conversations']} conversations ({r['users']} users) x {c['minutes']:g} min,"
        f" tps={c['tps']:g}, seed={c['seed']}, wall {r['wall_s']:.0f} s"
        f" ({r['streaming_when_clients_left']} answers still streaming when the clients left;"
        f" all ended {r['settle_s']:.1f} s later)"
    )
    print("actions: " + ", ".join(f"{k}={v}" for k, v in sorted(r["actions"].items())))
    print(
        "ends seen by clients: "
        + ", ".join(f"{k}={v}" for k, v in r["ends_seen_by_clients"].items())
    )
    print(
        "error frames: "
        + (", ".join(f"{k}={v}" for k, v in sorted(r["error_frames"].items())) or "none")
    )
    print("protocol: " + ", ".join(f"{k}={v}" for k, v in sorted(r["protocol"].items())))
    s = r["stored"]
    print(
        f"stored: complete={s['complete']} stopped={s['stopped']} "
        f"interrupted={s['interrupted']} failed={s['failed']} "
        f"still_streaming={r['still_streaming']}"
    )
    rss = r["rss_mib"]
    print(
        f"daphne RSS (MiB): start {rss['start']:.1f}, peak {rss['peak']:.1f}, "
        f"after {rss['after']:.1f}; server CPU {r['server_cpu_s']:.1f} s\n"
        "daphne RSS every 30 s (s: MiB): "
        + ", ".join(f"{t:.0f}: {m:.1f}" for t, m in r["rss_timeline"])
    )
    for problem in r["problems"][:20]:
        print(f"  {problem}")
    for line in r["server_log_errors"][:10]:
        print(f"  server log: {line}")
    for crash in r["client_crashes"][:10]:
        print(f"  client crash: {crash}")
    print(
        f"SOAK lost={r['lost']} doubled={r['doubled']} corrupted={r['corrupted']} "
        f"(client views checked: {r['client_views_checked']}, "
        f"server log errors: {len(r['server_log_errors'])})"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=10, help="clients at once (10)")
    parser.add_argument("--minutes", type=float, default=1.0, help="length of the run (1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this file")
    parser.add_argument("--tps", type=float, default=50, help="upstream tokens per second (50)")
    parser.add_argument("--reasoning", type=int, default=60, help="max reasoning tokens (60)")
    parser.add_argument("--answer", type=int, default=150, help="max answer tokens (150)")
    parser.add_argument("--per-user", type=int, default=5, help="conversations per user (5)")
    args = parser.parse_args(argv)
    if args.conversations < 1 or args.minutes <= 0 or args.tps <= 0 or args.per_user < 1:
        parser.error("need --conversations >= 1, --minutes > 0, --tps > 0, --per-user >= 1")
    return args


def main() -> int:
    return asyncio.run(run(parse_args()))


if __name__ == "__main__":
    sys.exit(main())
