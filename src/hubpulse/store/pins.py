"""Pins: a reader's claim on stored files, so that no writer removes what a reader is about to
read.

A snapshot's load and a derived stage's build are read lazily: a question registers views over
their Parquet files and the engine opens them later. Whoever removes stored files (the sweep of
replaced loads, the pruning of old stage builds) would otherwise delete them under a running
question. So a reader *pins* the file that stands for what it reads (a load's ``loads.parquet``,
a build's ``meta.json``) with a shared ``flock`` held for as long as it reads, and a remover
*claims* it first with an exclusive lock that does not wait: what a reader holds is skipped and
left for a later sweep. The locks are the operating system's, so they go with the process: a
reader killed with ``kill -9`` holds nothing.

Locks belong to open files, so a process that pinned a file cannot claim it through another
open file: it keeps what it reads until it unpins it, like any other reader. Within a process a
file is opened once and pinned for each owner (a warehouse, an engine connection) that reads it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_lock = threading.RLock()  # re-entrant: a collected owner's callback may run while it is held
# path → (the open file holding the shared lock, the owners reading it, weakly: a reader that
# is dropped without releasing stops counting once it is collected)
_pins: dict[Path, tuple[IO[bytes], list[weakref.ref[object]]]] = {}


def pin(path: Path, owner: object) -> bool:
    """Hold a shared lock on ``path`` for ``owner`` (a warehouse's survey, an engine connection)
    until ``unpin``, ``release`` or ``owner`` is collected; False when the file is gone, or was
    removed before the lock was had (look it up again)."""
    path = Path(os.path.abspath(path))
    with _lock:
        held = _pins.get(path)
        if held is not None:
            held[1].append(_ref(owner, path))
            return True
        try:
            handle = path.open("rb")
        except OSError:
            return False
        fcntl.flock(handle, fcntl.LOCK_SH)  # waits only while a remover holds it
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except OSError:
            same = False
        if not same:  # removed (or renamed away) between the open and the lock
            handle.close()
            return False
        _pins[path] = (handle, [_ref(owner, path)])
        return True


def _ref(owner: object, path: Path) -> weakref.ref[object]:
    """A weak reference to ``owner`` that lets go of its pin of ``path`` when it is collected."""

    def collected(ref: weakref.ref[object]) -> None:
        with _lock:
            _drop(path, lambda r: r is ref)

    return weakref.ref(owner, collected)


@atexit.register
def _close_all() -> None:
    """At exit every lock goes anyway; close the files so that none is reported unclosed."""
    with _lock:
        for handle, _ in _pins.values():
            handle.close()
        _pins.clear()


def unpin(path: Path, owner: object) -> None:
    """Release ``owner``'s pins of ``path``; the lock goes with the last owner."""
    with _lock:
        _drop(Path(os.path.abspath(path)), lambda ref: ref() is owner)


def release(owner: object) -> None:
    """Release every pin ``owner`` holds."""
    with _lock:
        for path in list(_pins):
            _drop(path, lambda ref: ref() is owner)


def pinned() -> list[Path]:
    """Every file this process pins."""
    with _lock:
        return list(_pins)


def _drop(path: Path, which: Callable[[weakref.ref[object]], bool]) -> None:
    """Forget the owners of ``path``'s pin that ``which`` picks, and dead ones (hold ``_lock``)."""
    held = _pins.get(path)
    if held is None:
        return
    held[1][:] = [ref for ref in held[1] if ref() is not None and not which(ref)]
    if not held[1]:
        del _pins[path]
        held[0].close()  # closing the file releases its lock


def _let_go_of_dropped(path: Path) -> None:
    """Before claiming what this process pins: collect readers it dropped, and forget them."""
    path = Path(os.path.abspath(path))
    if path not in _pins:
        return
    gc.collect()
    with _lock:
        _drop(path, lambda ref: False)


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Whether no reader pins ``path`` (True also when the file is gone), holding the exclusive
    lock while the caller removes what it stands for; never waits."""
    _let_go_of_dropped(Path(path))
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 (closed below, with its lock)
    except OSError:
        yield True
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
