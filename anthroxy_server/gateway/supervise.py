"""``--workers N`` (``[server] workers``): one supervisor, N worker processes on one port.

Each worker is a full server (``python -m anthroxy_server`` with the same flags) that listens
with ``SO_REUSEPORT``, so the kernel spreads connections over them. The supervisor serves
nothing itself: it starts the workers, starts a dead one again (after a pause that doubles up
to 30 s while it keeps dying young), passes ``SIGHUP`` on to each worker (each reloads its
files) and on ``SIGTERM``/``SIGINT`` stops them all and exits.

The workers learn about the group from their environment (``WORKER_ENV``): the supervisor's
pid, which ``/healthz`` reports as ``pid`` so ``anthroxy stop``/``reload``/``status`` signal
the whole group; the number of workers; how many reloads the group has had, so a restarted
worker counts its reloads like its siblings (``anthroxy reload`` compares those counts); and
prometheus-client's ``PROMETHEUS_MULTIPROC_DIR``, a directory emptied at every start, where
every worker's counters live so ``/metrics`` adds them up.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .logs import LOGGER_NAME
from .reload import has_terminal

log = logging.getLogger(LOGGER_NAME)

SUPERVISOR_ENV = "ANTHROXY_SUPERVISOR_PID"
WORKERS_ENV = "ANTHROXY_WORKERS"
RELOADS_ENV = "ANTHROXY_GROUP_RELOADS"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROC_DIR_NAME = "metrics-workers"
STOP_GRACE = 10.0  # seconds a worker has to finish before it is killed
YOUNG = 30.0  # a worker that dies younger than this doubles the pause before the next start
MAX_PAUSE = 30.0


def supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def unsupported_message() -> str:
    return (
        f"--workers above 1 needs SO_REUSEPORT, which {sys.platform} lacks; run one worker, "
        "or several proxies on different ports behind a load balancer"
    )


class _Worker:
    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.pause = 1.0
        self.due = 0.0  # when a dead worker is started again


class Supervisor:
    """The loop of the supervisor process; ``run()`` returns its exit code."""

    def __init__(self, argv: Sequence[str], count: int, state_dir: Path) -> None:
        self.argv = [sys.executable, "-m", "anthroxy_server", *argv]
        self.workers = [_Worker(slot) for slot in range(count)]
        self.multiproc = state_dir / MULTIPROC_DIR_NAME
        self.reloads = 0
        self.stopping = False
        self.exit_code = 0
        self.had_terminal = has_terminal()  # a foreground `serve` in a terminal

    def run(self) -> int:
        shutil.rmtree(self.multiproc, ignore_errors=True)
        self.multiproc.mkdir(parents=True, mode=0o700)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hangup)
        log.info("supervisor pid %d starting %d workers", os.getpid(), len(self.workers))
        try:
            for worker in self.workers:
                self._start(worker)
            while not self.stopping:
                self._watch()
                time.sleep(0.1)
        finally:
            self._stop_all()
        return self.exit_code

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env[SUPERVISOR_ENV] = str(os.getpid())
        env[WORKERS_ENV] = str(len(self.workers))
        env[RELOADS_ENV] = str(self.reloads)
        env[MULTIPROC_ENV] = str(self.multiproc)
        return env

    def _start(self, worker: _Worker) -> None:
        # A session of its own: a terminal's Ctrl-C reaches the supervisor alone, which stops
        # the workers in order (rather than racing their exits against restarts).
        worker.proc = subprocess.Popen(
            self.argv, env=self._env(), start_new_session=True, preexec_fn=_in_worker
        )
        worker.started = time.monotonic()
        log.info("worker %d started (pid %d)", worker.slot, worker.proc.pid)

    def _watch(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            proc = worker.proc
            if proc is None:
                if now >= worker.due and not self.stopping:
                    self._start(worker)
                continue
            code = proc.poll()
            if code is None:
                continue
            self._buried(worker, proc, code, now)

    def _buried(
        self, worker: _Worker, proc: subprocess.Popen[bytes], code: int, now: float
    ) -> None:
        """A worker ended by itself: start it again later, or give up on a start that
        cannot work (a configuration problem, or an address it cannot listen on)."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(proc.pid, str(self.multiproc))  # type: ignore[no-untyped-call]
        worker.proc = None
        age = now - worker.started
        if code in (1, 2) and age < YOUNG:
            log.error("worker %d (pid %d) could not start (exit %d); stopping", worker.slot,
                      proc.pid, code)  # fmt: skip
            self.exit_code = code
            self.stopping = True
            return
        worker.pause = min(worker.pause * 2, MAX_PAUSE) if age < YOUNG else 1.0
        worker.due = now + worker.pause
        log.warning(
            "worker %d (pid %d) ended (exit %d) after %.1f s; starting another in %.0f s",
            worker.slot, proc.pid, code, age, worker.pause,
        )  # fmt: skip

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        if self.had_terminal and not has_terminal():
            # The terminal of a foreground `serve` closed: the classic meaning of SIGHUP, as
            # for a single process (reload.py).
            log.info("the terminal closed: stopping the workers")
            self.stopping = True
            return
        self.reloads += 1
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGHUP)

    def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop within %g s; killed", proc.pid, STOP_GRACE)
                proc.kill()
                proc.wait()
        log.info("supervisor pid %d stopped", os.getpid())


def _in_worker() -> None:
    """Run in the new worker before it executes Python: a SIGHUP that arrives before the
    worker's reload handler is in place is ignored rather than fatal; on Linux the worker gets
    SIGTERM if the supervisor dies without stopping it (no orphans left serving the port)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def group_info(env: dict[str, str] | os._Environ[str]) -> tuple[int, int] | None:
    """``(supervisor pid, workers)`` in a worker of a group, else None."""
    try:
        return int(env[SUPERVISOR_ENV]), int(env[WORKERS_ENV])
    except (KeyError, ValueError):
        return None
