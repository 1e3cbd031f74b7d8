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
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from sloguard.errors import OutputError, SloguardError
from sloguard.files import Staged

_STOPS = {signal.SIGTERM, signal.SIGINT}
_PR_SET_PDEATHSIG = 1  # prctl(2): a signal for this process when its parent dies (Linux)


@dataclasses.dataclass(frozen=True)
class _Worker:
    pid: int
    replies: int  # the read end of the pipe it answers on
    directory: Path


def stage_all(outputs: Sequence[tuple[Path, Mapping[str, str]]]) -> list[Staged]:
    """Every (directory, files) staged at once: the first here, each other in a forked worker,
    so that their texts are made side by side (10,000 SLOs' rules and dashboards take about
    5 s each). All are staged or none: on any failure, or SIGTERM (raised as SystemExit
    meanwhile) or SIGINT, the workers are stopped and every file staged is taken back, a
    killed worker's too (the names of its files are known here). A worker's failure is
    raised here as it was raised there."""
    planned = [Staged.planned(directory, files) for directory, files in outputs]
    workers: list[_Worker] = []
    try:
        with terminated_as_exit():
            for staged in planned[1:]:
                with held_signals():  # a worker started is a worker known
                    workers.append(_fork(staged))
            if planned:
                planned[0].write()
            while workers:
                _collect(workers)
    except BaseException:
        with held_signals():
            for worker in workers:
                _stop(worker)
            for staged in planned:
                staged.discard()
        raise
    return planned


@contextlib.contextmanager
def terminated_as_exit() -> Iterator[None]:
    """SIGTERM (a CI job's timeout, `kill`) raises SystemExit meanwhile, so that files being
    staged are taken back as on any other failure rather than left half-made."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals (and receives them)
        return
    previous = signal.signal(signal.SIGTERM, _exit_on)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """SIGTERM and SIGINT held back meanwhile, and delivered after: for a step that must not
    be cut in two (files being put in place, a worker being started, staged files taken back)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _exit_on(signum: int, _: object) -> None:
    raise SystemExit(128 + signum)


def _fork(staged: Staged) -> _Worker:
    """A worker writing `staged` (started with SIGTERM and SIGINT held: see `held_signals`)."""
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
        _work(parent, staged, answers)
    os.close(answers)
    return _Worker(pid, replies, staged.directory)


def _work(parent: int, staged: Staged, answers: int) -> NoReturn:
    """In a worker: write the staged files (its directories are the parent's to take back: it
    may still be writing there) and answer with None or what failed; never return."""
    try:
        with contextlib.suppress(AttributeError, OSError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        signal.signal(signal.SIGTERM, _exit_on)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        failure: BaseException | None = None
        try:
            if os.getppid() != parent:  # it died before it could be told to stop this one
                raise SystemExit(128 + signal.SIGTERM)
            dataclasses.replace(staged, created=[]).write()
        except BaseException as exc:  # raised in the parent
            failure = exc
            if not isinstance(exc, SloguardError | SystemExit | KeyboardInterrupt):
                where = f"in the process writing {staged.directory}:"
                exc.add_note(f"{where}\n{traceback.format_exc()}")
        with os.fdopen(answers, "wb") as out:
            out.write(_portable(failure))
    finally:
        os._exit(0)


def _portable(failure: BaseException | None) -> bytes:
    """`failure` pickled, or a SloguardError with its message when it does not come back as
    itself (an error whose constructor takes other arguments than its message)."""
    try:
        data = pickle.dumps(failure)
        back = pickle.loads(data)
        if type(back) is type(failure) and str(back) == str(failure):
            return data
    except Exception:
        pass
    return pickle.dumps(SloguardError(f"{type(failure).__name__}: {failure}"))


def _collect(workers: list[_Worker]) -> None:
    """Wait for the first worker and forget it; raise its failure, if any."""
    worker = workers[0]
    chunks = []
    while chunk := os.read(worker.replies, 65536):
        chunks.append(chunk)
    with held_signals():  # reaped and forgotten together: never stopped after it was reaped
        _, status = os.waitpid(worker.pid, 0)
        os.close(worker.replies)
        workers.pop(0)
    try:
        failure = pickle.loads(b"".join(chunks))
    except Exception:
        code = os.waitstatus_to_exitcode(status)
        raise OutputError(
            f"cannot write to {worker.directory}: the process writing it ended ({code})"
        ) from None
    if failure is not None:
        raise failure


def _stop(worker: _Worker) -> None:
    """Stop a worker and wait for it (closing its pipe first: it may be answering)."""
    os.close(worker.replies)
    with contextlib.suppress(ProcessLookupError):
        os.kill(worker.pid, signal.SIGTERM)
    os.waitpid(worker.pid, 0)
