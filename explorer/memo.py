"""The one cache layer: library functions that keep their results, keyed by their
arguments, so the app's pages only lay out widgets and figures.

`@memoized("what it computes")` keeps a function's results in process memory (shared
by every session of the app, like Streamlit's cache_resource). Arguments are keyed by
content where it matters: a `Profile` by a hash of its meta, arrays and costs (computed
once per profile object), arrays by their bytes, criteria by name, dataclasses by their
fields' keys. So a changed model or profile recomputes; the same one never does. Anything else
is keyed by identity (the entry keeps it alive, so an id is never reused).

A page may memoize its own small helpers the same way: a page script defines them again
on every run, and the same file, name and code find the same cache.

A `progress` keyword argument is never part of the key: on a miss the wrapper reports
`progress(0.0, what)` before computing (a page's progress bar appears only when there
is work) and passes `progress` on if the function takes one. Results are shared: treat
them as read-only.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from . import zoo
from .compute import step

Progress = Callable[[float, str], None]  # (fraction done, what is happening), as explorer.profile's

_CONTENT: dict[int, tuple[object, str]] = {}  # id(profile) -> (the profile, its content hash)
_CONTENT_LOCK = threading.Lock()


def _profile_hash(prof) -> str:
    h = hashlib.sha1(json.dumps(prof.meta.to_json(), sort_keys=True, default=str).encode())
    for name in sorted(prof.cols):
        a = np.ascontiguousarray(prof.cols[name])
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    h.update(np.ascontiguousarray(prof.ref_len).tobytes())
    h.update(json.dumps([prof.macs.to_dict(), prof.ms.to_dict()], sort_keys=True, default=str).encode())
    h.update(repr(prof.answers).encode())
    return h.hexdigest()


def content_key(prof) -> str:
    """A profile's content hash, computed once per profile object (profiles are not
    changed once made; a changed one is a new object)."""
    with _CONTENT_LOCK:
        held = _CONTENT.get(id(prof))
        if held is not None and held[0] is prof:
            return held[1]
    digest = _profile_hash(prof)
    with _CONTENT_LOCK:
        if len(_CONTENT) > 512:  # profiles are few; forget the oldest if many come and go
            _CONTENT.pop(next(iter(_CONTENT)))
        _CONTENT[id(prof)] = (prof, digest)
    return digest


def key(value: Any, keep: list) -> Any:
    """A hashable key for one argument; objects keyed by identity are appended to `keep`."""
    from .criteria import Criterion
    from .profile import Profile

    if isinstance(value, bytes) and len(value) > 1024:  # an upload: kept as its hash, not its bytes
        return ("bytes", len(value), hashlib.sha1(value).hexdigest())
    if value is None or isinstance(value, str | bool | int | float | bytes):
        return value
    if isinstance(value, Profile):
        return ("profile", content_key(value))
    if isinstance(value, Criterion):
        return ("criterion", value.name)
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        return ("array", str(a.dtype), a.shape, hashlib.sha1(a.tobytes()).hexdigest())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return (type(value).__name__, *(key(v, keep) for v in value))
    if isinstance(value, dict):
        return ("dict", *((key(k, keep), key(v, keep)) for k, v in value.items()))
    if isinstance(value, frozenset | set):
        return ("set", *sorted((key(v, keep) for v in value), key=repr))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # by its fields' keys
        return (type(value).__qualname__, *(key(getattr(value, f.name), keep) for f in dataclasses.fields(value)))
    keep.append(value)
    return ("id", id(value))


@dataclasses.dataclass
class Stats:
    hits: int = 0
    misses: int = 0


@dataclasses.dataclass
class _Cache:
    entries: OrderedDict = dataclasses.field(default_factory=OrderedDict)  # key -> (result, objects keyed by id)
    locks: dict = dataclasses.field(default_factory=dict)
    guard: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    stats: Stats = dataclasses.field(default_factory=Stats)


_CACHES: dict[tuple, _Cache] = {}  # one per function: its file, name and code
_CACHES_LOCK = threading.Lock()


def _cache_of(fn) -> _Cache:
    """The function's cache. A page script defines its functions again on every run: the
    same file, name and code find the same cache (an edited function starts afresh)."""
    code = fn.__code__
    ident = (code.co_filename, fn.__qualname__, code.co_code)
    with _CACHES_LOCK:
        return _CACHES.setdefault(ident, _Cache())


def memoized(what: str = "", max_entries: int = 64):
    """Keep the function's results by argument (least recently used beyond `max_entries`)."""

    def wrap(fn):
        takes_progress = "progress" in inspect.signature(fn).parameters
        cache = _cache_of(inspect.unwrap(fn))
        entries, locks, guard, stats = cache.entries, cache.locks, cache.guard, cache.stats

        @functools.wraps(fn)
        def cached(*args, progress: Progress | None = None, **kwargs):
            keep: list = []
            k = (key(args, keep), key(sorted(kwargs.items()), keep))
            with guard:
                if k in entries:
                    entries.move_to_end(k)
                    stats.hits += 1
                    return entries[k][0]
                lock = locks.setdefault(k, threading.Lock())
            with lock:  # one computation per key, even when two sessions ask at once
                with guard:
                    if k in entries:
                        stats.hits += 1
                        return entries[k][0]
                if progress is not None:
                    progress(0.0, what or fn.__name__.replace("_", " "))
                with step(what or fn.__name__.replace("_", " ")):  # where the time goes (`make load`)
                    result = fn(*args, **kwargs, **({"progress": progress} if takes_progress else {}))
                with guard:
                    stats.misses += 1
                    entries[k] = (result, keep)
                    while len(entries) > max_entries:
                        entries.popitem(last=False)
                    locks.pop(k, None)
            return result

        def clear() -> None:
            with guard:
                entries.clear()

        def has(*args, **kwargs) -> bool:
            """Whether these arguments' result is kept (a call would answer at once)."""
            k = (key(args, []), key(sorted(kwargs.items()), []))
            with guard:
                return k in entries

        cached.stats, cached.clear, cached.has, cached.what = stats, clear, has, what
        return cached

    return wrap


def clear_all() -> None:
    """Forget every kept result."""
    with _CACHES_LOCK:
        caches = list(_CACHES.values())
    for cache in caches:
        with cache.guard:
            cache.entries.clear()


# A model changed under its name (re-imported): answers and sweeps kept under that name are
# stale. Keys do not say which model they came from, so every result goes.
zoo.on_forget(lambda name: clear_all())
