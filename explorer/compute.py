"""Model work on a shared server: how many requests compute at once, with how many torch
threads each, whether the machine is too busy to time anything, and where the time goes.

A lab runs one app server for several people. Left alone, every session's script thread
runs torch with one thread per core, so eight uploads at once put 8 × cores threads on
the cores and every answer waits for all of them. Instead, model work for a request runs
inside `slot()`: at most `SLOTS` requests compute at once, each with `THREADS` torch
threads (SLOTS × THREADS = the cores), and the others wait their turn in a queue of
their own, first come first served, while their pages are already drawn.

`step(name)` times a piece of work; with `EXPLORER_STEP_LOG=path` set in the server's
environment each timing is appended there as one JSON line (`make load` reads it to say
where the time went). Nothing here imports the rest of the explorer.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
THREADS = 1  # torch threads per request: a batch-1 forward pass of these models gains little from more
SLOTS = max(1, CORES // THREADS)  # requests computing at once; the rest queue
BUSY_LOAD = 1.5  # load average per core above which a timing measures the other work, not the model

_slots = threading.Semaphore(SLOTS)
_held = threading.local()  # a thread already in a slot does not queue again (no deadlock on nesting)
_queue_lock = threading.Lock()
_waiting = 0  # requests queued for a slot now
LOG_ENV = "EXPLORER_STEP_LOG"
ANSWERED = "a live page's run until its answer was drawn"  # the server's part of an answer (`make load` reads it)


@contextmanager
def slot() -> Iterator[None]:
    """Compute inside one of the SLOTS, with THREADS torch threads (waiting for a slot first)."""
    global _waiting
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    with _queue_lock:
        _waiting += 1
    begin = time.perf_counter()
    _slots.acquire()
    with _queue_lock:
        _waiting -= 1
    record("waiting for a compute slot", time.perf_counter() - begin)
    _held.depth = 1
    try:
        import torch

        torch.set_num_threads(THREADS)  # per thread under OpenMP: set in the thread that computes
        yield
    finally:
        _held.depth = 0
        _slots.release()


def waiting() -> int:
    """Requests queued for a compute slot right now."""
    return _waiting


def busy() -> str:
    """Why a timing taken now would measure the machine's other work rather than the model,
    in a sentence; "" when the machine is quiet enough to time."""
    if _waiting:
        return (f"{_waiting} other request{'s' if _waiting > 1 else ''} {'are' if _waiting > 1 else 'is'} waiting "
                "to compute on this server")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > BUSY_LOAD * CORES:
        return f"the machine's load is {load:.1f} on {CORES} cores"
    return ""


def record(name: str, seconds: float) -> None:
    """Append one timing to the step log, when the server keeps one."""
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    line = json.dumps({"step": name, "s": round(seconds, 4), "at": round(time.time(), 3)}) + "\n"
    with open(path, "a") as f:  # one short append per line: lines of concurrent threads do not interleave
        f.write(line)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time the work inside as `name` in the step log."""
    begin = time.perf_counter()
    try:
        yield
    finally:
        record(name, time.perf_counter() - begin)
