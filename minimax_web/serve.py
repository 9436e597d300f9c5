"""One Daphne process per core behind one port.

supervisord (a well-kept process manager) opens the listening socket once and hands it to N
Daphne processes as file descriptor 0 (`daphne --fd 0`, the deployment Channels documents);
the kernel spreads new connections over the processes accepting on it. supervisord restarts a
process that dies and, on SIGTERM or SIGINT, passes the signal to every process at once, so
each drains its running answers (minimax_web.graceful_shutdown) before it exits.

Usage: python -m minimax_web.serve [--processes N] [--host H] [--port P]
(docs/architecture.md, "Every core"; README, "One process per core").
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROGRAM = "minimax-web"
# Seconds supervisord waits for a process after SIGTERM beyond its drain time: the final saves
# and Daphne's own stop (the same margin the Docker stop grace needs).
STOP_MARGIN_SECONDS = 3


class ServeError(Exception):
    """A configuration that cannot serve correctly; the message says what to change."""


@dataclass(frozen=True)
class ServePlan:
    processes: int
    host: str
    port: int
    run_dir: Path
    stop_wait_seconds: int
    python: str = sys.executable

    @property
    def config_path(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"


def default_processes() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _escape(value: object) -> str:
    # supervisord expands %(name)s in option values; a literal % must be doubled.
    return str(value).replace("%", "%%")


def supervisord_config(plan: ServePlan) -> str:
    """The supervisord configuration that runs `plan`."""
    daphne = f"{plan.python} -m daphne --fd 0 minimax_web.asgi:application"
    return f"""\
[supervisord]
nodaemon=true
logfile={_escape(plan.run_dir / "supervisord.log")}
logfile_maxbytes=5MB
logfile_backups=2
pidfile={_escape(plan.run_dir / "supervisord.pid")}
childlogdir={_escape(plan.run_dir)}

[unix_http_server]
file={_escape(plan.control_socket)}
chmod=0700

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{_escape(plan.control_socket)}

[fcgi-program:{PROGRAM}]
socket=tcp://{_escape(plan.host)}:{plan.port}
socket_backlog=1024
command={_escape(daphne)}
directory={_escape(REPO)}
numprocs={plan.processes}
process_name=daphne-%(process_num)d
autostart=true
autorestart=true
startsecs=2
stopsignal=TERM
stopwaitsecs={plan.stop_wait_seconds}
killasgroup=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
redirect_stderr=true
"""


def plan_from_settings(*, processes: int, host: str, port: int) -> ServePlan:
    """Check that the settings can serve `processes` processes and plan the run."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minimax_web.settings")
    from django.conf import settings

    if processes < 1:
        raise ServeError("--processes must be at least 1")
    if processes > 1 and not settings.REDIS_URL:
        raise ServeError(
            "More than one process needs REDIS_URL: the in-memory channel layer cannot carry "
            "frames or Stop from one process to another. Set REDIS_URL, or use --processes 1."
        )
    run_dir = Path(settings.DATA_DIR) / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    return ServePlan(
        processes=processes,
        host=host,
        port=port,
        run_dir=run_dir,
        stop_wait_seconds=int(settings.SHUTDOWN_DRAIN_SECONDS) + STOP_MARGIN_SECONDS,
    )


def _sqlite_note(processes: int) -> str | None:
    from django.conf import settings

    if processes > 1 and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return (
            "note: several processes share one SQLite file; it works (WAL, one writer at a "
            "time), but PostgreSQL (DATABASE_URL) carries more answers."
        )
    return None


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m minimax_web.serve",
        description="Serve minimax-web with one Daphne process per core behind one port.",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=int(os.environ.get("WEB_PROCESSES") or default_processes()),
        help="Daphne processes (default: WEB_PROCESSES, else the number of usable cores)",
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        plan = plan_from_settings(processes=args.processes, host=args.host, port=args.port)
    except ServeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    note = _sqlite_note(plan.processes)
    if note:
        print(note, file=sys.stderr)
    plan.config_path.write_text(supervisord_config(plan))
    print(
        f"minimax-web: {plan.processes} Daphne process(es) on http://{plan.host}:{plan.port}/ "
        f"(supervisorctl -c {plan.config_path} status)",
        flush=True,
    )
    # supervisord becomes this process (PID 1 in a container), so signals reach it directly.
    os.execv(
        plan.python,
        [plan.python, "-m", "supervisor.supervisord", "-c", str(plan.config_path)],
    )
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
