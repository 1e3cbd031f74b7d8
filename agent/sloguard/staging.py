"""Staging several outputs at once, each beyond the first in a forked worker process, all of
them put in place or none; and the signal handling that keeps "none" true when `generate` is
stopped (SIGTERM raised as SystemExit while staging, SIGTERM and SIGINT held back while a step
must not be cut in two)."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from sloguard.errors import OutputError, SloguardError
from sloguard.files import Staged

_STOPS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1  # prctl(2): a signal for this process when its parent dies (Linux)


@dataclasses.dataclass(frozen=True)
class _Worker:
    pid: int
    replies: int  # the read end of the pipe it answers on
    directory: Path


def write_together(
    outputs: Sequence[tuple[Path, Mapping[str, str]]],
    commit: Callable[[list[Staged]], None],
) -> None:
    """Every (directory, files) staged at once, the first here and each other in a forked
    worker, so that their texts are made side by side (10,000 SLOs' rules and dashboards take
    about 5 s each); then `commit` puts them in place, with SIGTERM and SIGINT held back. All or
    none: on any failure, SIGTERM (raised as SystemExit meanwhile) or SIGINT before the commit,
    the workers are stopped and every file staged is taken back, a killed worker's too (the
    names of its files are known here), even when a second signal follows the first. A
    worker's failure is raised here as it was raised there."""
    planned = [Staged.planned(directory, files) for directory, files in outputs]
    workers: list[_Worker] = []
    # SIGTERM raises until everything is taken back: its default action would end this
    # process before then.
    with _terminated_as_exit():
        try:
            for staged in planned[1:]:
                with HeldSignals() as held:  # a worker started is a worker known
                    workers.append(_fork(staged, held))
            if planned:
                planned[0].write()
            while workers:
                _collect(workers)
            with HeldSignals():
                commit(planned)
        except BaseException:
            _take_back(workers, planned)
            raise


def _take_back(workers: list[_Worker], planned: list[Staged]) -> None:
    """Stop the workers and remove every staged file, whatever signals arrive meanwhile."""
    done = False
    while not done:
        try:
            with HeldSignals():
                while workers:
                    _stop(workers.pop())
                for staged in planned:
                    staged.discard()
                done = True
        except (SystemExit, KeyboardInterrupt):  # a second signal: the first is what is raised
            continue


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM (a CI job's timeout, `kill`) raises SystemExit meanwhile, so that files being
    staged are taken back as on any other failure rather than left half-made; unless SIGTERM
    is ignored, as it stays."""
    # Only the main thread may handle signals (and receives them).
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    ):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class HeldSignals:
    """SIGTERM and SIGINT held back meanwhile, and delivered after, to the handlers they had:
    for a step that must not be cut in two (files being put in place, a worker being started,
    staged files taken back). Held by handlers rather than the signal mask, which another
    thread's would not honour; like every handler, only in the main thread."""

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.arrived: list[int] = []

    def __enter__(self) -> HeldSignals:
        if threading.current_thread() is threading.main_thread():
            try:
                for stop in _STOPS:
                    self.previous[stop] = signal.signal(stop, self._hold)
            except BaseException:  # a signal on the way in, to a handler that raised
                self.release()
                raise
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def _hold(self, signum: int, _: object) -> None:
        self.arrived.append(signum)

    def release(self) -> None:
        """The handlers back, and what arrived meanwhile delivered to them; every handler is
        put back even when one raises (a signal to a handler already back), then that is
        raised."""
        failure: BaseException | None = None
        while self.previous:
            stop, handler = self.previous.popitem()
            try:
                signal.signal(stop, handler)  # in place before any handler runs
            except BaseException as exc:
                failure = failure or exc
        arrived, self.arrived = self.arrived, []
        for stop in dict.fromkeys(arrived):
            try:
                signal.raise_signal(stop)
            except BaseException as exc:
                failure = failure or exc
        if failure is not None:
            raise failure


def _exit_on(signum: int, _: object) -> None:
    raise SystemExit(128 + signum)


def _fork(staged: Staged, held: HeldSignals) -> _Worker:
    """A worker writing `staged`, started while SIGTERM and SIGINT are `held`; it handles them
    as this process did before."""
    parent = os.getpid()
    try:
        replies, answers = os.pipe()
    except OSError as exc:
        raise OutputError(f"cannot start a process to write {staged.directory}: {exc}") from exc
    for stream in (sys.stdout, sys.stderr):  # what is buffered is written once, here
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(replies)
        os.close(answers)
        raise OutputError(f"cannot start a process to write {staged.directory}: {exc}") from exc
    if pid == 0:
        os.close(replies)
        _work(parent, staged, answers, held)
    os.close(answers)
    return _Worker(pid, replies, staged.directory)


def _work(parent: int, staged: Staged, answers: int, held: HeldSignals) -> NoReturn:
    """In a worker: write the staged files (its directories are the parent's to take back: it
    may still be writing there) and answer with None or what failed; never return. It dies
    with its parent: the parent takes back what it staged, or (killed) cannot."""
    failure: BaseException | None = None
    try:
        with contextlib.suppress(AttributeError, OSError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        held.release()
        if os.getppid() != parent:  # it died before it could take this one with it
            raise SystemExit(128 + signal.SIGKILL)
        dataclasses.replace(staged, created=[]).write()
    except BaseException as exc:  # raised in the parent
        failure = exc
        if not isinstance(exc, SloguardError | SystemExit | KeyboardInterrupt):
            where = f"in the process writing {staged.directory}:"
            exc.add_note(f"{where}\n{traceback.format_exc()}")
    try:
        with os.fdopen(answers, "wb") as out:
            out.write(_portable(failure))
    finally:
        os._exit(0)


def _portable(failure: BaseException | None) -> bytes:
    """`failure` pickled, or a SloguardError with its message and notes (a defect's traceback)
    when it does not come back as itself (an error whose constructor takes other arguments
    than its message)."""
    try:
        data = pickle.dumps(failure)
        back = pickle.loads(data)
        if type(back) is type(failure) and str(back) == str(failure):
            return data
    except Exception:
        pass
    portable = SloguardError(f"{type(failure).__name__}: {failure}")
    for note in getattr(failure, "__notes__", ()):
        portable.add_note(note)
    return pickle.dumps(portable)


def _collect(workers: list[_Worker]) -> None:
    """Wait for the first worker and forget it; raise its failure, if any."""
    worker = workers[0]
    chunks = []
    while chunk := os.read(worker.replies, 65536):
        chunks.append(chunk)
    with HeldSignals():  # reaped and forgotten together: never stopped after it was reaped
        ended = _reaped(worker.pid)
        os.close(worker.replies)
        workers.pop(0)
    try:
        failure = pickle.loads(b"".join(chunks))
    except Exception:  # cut short: the worker was killed
        raise OutputError(
            f"cannot write to {worker.directory}: the process writing it ended ({ended})"
        ) from None
    if failure is not None:
        raise failure


def _stop(worker: _Worker) -> None:
    """Stop a worker and wait for it (what it staged is taken back here)."""
    os.close(worker.replies)
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGKILL)
    _reaped(worker.pid)


def _reaped(pid: int) -> str:
    """How the worker ended, once it has: its exit code, or "unknown" when it was reaped
    elsewhere (SIGCHLD ignored, or a host program's own reaper)."""
    try:
        return str(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    except ChildProcessError:
        while _alive(pid):
            time.sleep(0.01)
        return "unknown"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
