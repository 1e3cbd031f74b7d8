import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from sloguard.deferred import DeferredFiles
from sloguard.errors import OutputError, SloguardError, SpecError, SpecProblem
from sloguard.files import Staged
from sloguard.staging import HeldSignals, write_together


def _written_by_pid() -> str:
    return f"{os.getpid()}\n"


def _wait_for(flag: Path) -> str:
    """A text made only once `flag` holds something (written by another output's maker)."""
    deadline = time.monotonic() + 30
    while not (flag.exists() and flag.stat().st_size):
        assert time.monotonic() < deadline, f"{flag.name} was not made meanwhile"
        time.sleep(0.01)
    return "waited\n"


def _flag(flag: Path) -> str:
    flag.write_text("set")
    return "flagged\n"


def _ended(pid: int) -> bool:
    """Whether the process has exited (reaped, or a zombie waiting to be)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_ended(pid: int) -> None:
    deadline = time.monotonic() + 30
    while not _ended(pid):
        assert time.monotonic() < deadline, f"process {pid} did not end"
        time.sleep(0.01)


def _commit(staged: list[Staged]) -> None:
    for pending in staged:
        pending.commit()


def _together(outputs: list[tuple[Path, Mapping[str, str]]]) -> None:
    write_together(outputs, _commit)


def _leftovers(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def test_outputs_are_staged_side_by_side_in_processes_of_their_own(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    # Made one after another, the first output would wait for the second forever.
    first = DeferredFiles({"a.yml": lambda: _wait_for(flag), "pid.yml": _written_by_pid})
    second = DeferredFiles({"b.yml": lambda: _flag(flag), "pid.yml": _written_by_pid})

    def commit(staged: list[Staged]) -> None:
        assert not (tmp_path / "one" / "a.yml").exists()  # staged under a hidden name till now
        _commit(staged)

    write_together([(tmp_path / "one", first), (tmp_path / "two", second)], commit)
    assert (tmp_path / "one" / "a.yml").read_text() == "waited\n"
    assert (tmp_path / "two" / "b.yml").read_text() == "flagged\n"
    assert (tmp_path / "one" / "pid.yml").read_text() == f"{os.getpid()}\n"
    assert (tmp_path / "two" / "pid.yml").read_text() != f"{os.getpid()}\n"
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["b.yml", "pid.yml"]


def _refused() -> str:
    raise OutputError("b.yml is over the 1 MiB a ConfigMap can hold")


def _crashed() -> str:
    raise ValueError("a defect")


def _interrupted() -> str:
    raise KeyboardInterrupt


def _unpicklable() -> str:
    problem = SpecProblem("shop.yaml", 3, "shop", "availability", "objective", "out of range")
    raise SpecError([problem])


def _killed() -> str:
    os.kill(os.getpid(), signal.SIGKILL)
    return "never written"


@pytest.mark.parametrize(
    ("maker", "raised", "said"),
    [
        (_refused, OutputError, "over the 1 MiB"),
        (_crashed, ValueError, "a defect"),
        (_interrupted, KeyboardInterrupt, "^$"),
        (_unpicklable, SloguardError, "SpecError: shop.yaml:3: shop/availability: objective"),
        (_killed, OutputError, rf"the process writing it ended \(-{signal.SIGKILL}\)"),
    ],
)
def test_a_worker_that_fails_leaves_nothing_of_any_output(
    tmp_path: Path, maker: Callable[[], str], raised: type[BaseException], said: str
) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.yml").write_text("old")
    mine = DeferredFiles({"a.yml": lambda: "new"})
    # The worker's first file is written before the failure (and taken back, even when the
    # worker itself is killed).
    theirs = DeferredFiles({"a.yml": lambda: "staged first", "b.yml": maker})
    with pytest.raises(raised, match=said):
        _together([(tmp_path / "one", mine), (tmp_path / "out" / "two", theirs)])
    assert _leftovers(tmp_path) == ["one", "one/a.yml"]  # `out/two` taken back
    assert (tmp_path / "one" / "a.yml").read_text() == "old"


class _Odd(Exception):
    """A defect whose constructor takes two arguments: it cannot be unpickled."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def _crashed_oddly() -> str:
    raise _Odd("a defect", "of an odd kind")


@pytest.mark.parametrize(
    ("maker", "raised"), [(_crashed, ValueError), (_crashed_oddly, SloguardError)]
)
def test_a_defect_in_a_worker_carries_the_workers_traceback(
    tmp_path: Path, maker: Callable[[], str], raised: type[BaseException]
) -> None:
    with pytest.raises(raised, match="a defect") as caught:
        _together([(tmp_path / "one", {}), (tmp_path / "two", DeferredFiles({"b": maker}))])
    assert "in the process writing" in caught.value.__notes__[0]
    assert maker.__name__ in caught.value.__notes__[0]


def test_a_worker_that_fails_leaves_a_shared_directory_to_the_others(tmp_path: Path) -> None:
    # The rules and the ConfigMaps in one new directory: the ConfigMaps' worker fails first,
    # and the rules are still being written there; the failure reported is the worker's.
    shared, flag = tmp_path / "new" / "shared", tmp_path / "flag"

    def refused_at_once() -> str:
        flag.write_text(str(os.getpid()))
        return _refused()

    def once_the_worker_ended() -> str:
        _wait_for(flag)
        _wait_ended(int(flag.read_text()))
        return "rules\n"

    mine = DeferredFiles({"a.rules.yml": lambda: "rules\n", "b.rules.yml": once_the_worker_ended})
    with pytest.raises(OutputError, match="over the 1 MiB"):
        _together([(shared, mine), (shared, DeferredFiles({"c.yml": refused_at_once}))])
    assert _leftovers(tmp_path) == ["flag"]


def _sleeping() -> str:
    time.sleep(60)
    return "never written"


def test_a_failure_here_stops_the_workers_and_takes_back_their_files(tmp_path: Path) -> None:
    pid = tmp_path / "worker.pid"

    def sleeping() -> str:
        pid.write_text(str(os.getpid()))
        return _sleeping()

    def refused_once_the_worker_sleeps() -> str:
        _wait_for(pid)
        return _refused()

    mine = DeferredFiles({"b.yml": refused_once_the_worker_sleeps})
    theirs = DeferredFiles({"a.yml": lambda: "staged first", "b.yml": sleeping})
    with pytest.raises(OutputError, match="over the 1 MiB"):
        _together([(tmp_path / "one", mine), (tmp_path / "two", theirs)])
    with pytest.raises(ProcessLookupError):  # stopped (and reaped), not left to sleep
        os.kill(int(pid.read_text()), 0)
    assert _leftovers(tmp_path) == ["worker.pid"]


def test_sigterm_while_a_worker_writes_leaves_nothing(tmp_path: Path) -> None:
    def terminated() -> str:
        os.kill(os.getppid(), signal.SIGTERM)
        return _sleeping()

    before, interrupts = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    theirs = DeferredFiles({"a.yml": lambda: "staged first", "b.yml": terminated})
    with pytest.raises(SystemExit) as exited:
        # Nothing of its own to write: the signal finds it waiting for the worker.
        _together([(tmp_path / "one", {}), (tmp_path / "two", theirs)])
    assert exited.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getsignal(signal.SIGINT) is interrupts  # nothing left held back


def test_a_worker_outlives_no_killed_parent(tmp_path: Path) -> None:
    # The OOM killer takes `generate` itself: its worker stops too.
    pid = tmp_path / "worker.pid"

    def sleeping() -> str:
        pid.write_text(str(os.getpid()))
        return _sleeping()

    parent = os.fork()
    if parent == 0:
        try:
            theirs = DeferredFiles({"a.yml": lambda: "staged first", "b.yml": sleeping})
            _together(
                [
                    (tmp_path / "one", DeferredFiles({"a.yml": _sleeping})),
                    (tmp_path / "two", theirs),
                ]
            )
        finally:
            os._exit(1)
    try:
        _wait_for(pid)
        os.kill(parent, signal.SIGKILL)
    finally:
        os.waitpid(parent, 0)
    _wait_ended(int(pid.read_text()))  # it does not write on: what it staged stays, as its
    # parent's does when it is killed


def _in_a_daemon(directory: Path) -> None:
    _together([(directory / "one", {"a.yml": "a"}), (directory / "two", {"b.yml": "b"})])


def test_a_daemonic_process_may_stage_side_by_side(tmp_path: Path) -> None:
    daemon = multiprocessing.get_context("fork").Process(
        target=_in_a_daemon, args=(tmp_path,), daemon=True
    )
    daemon.start()
    daemon.join(60)
    assert daemon.exitcode == 0
    assert _leftovers(tmp_path) == ["one", "one/a.yml", "two", "two/b.yml"]


def test_a_signal_once_all_is_staged_waits_for_every_file_to_be_in_place(tmp_path: Path) -> None:
    def commit(staged: list[Staged]) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # held back until the files are in place
        _commit(staged)

    with pytest.raises(SystemExit):
        write_together(
            [(tmp_path / "one", {"a.yml": "a"}), (tmp_path / "two", {"b.yml": "b"})], commit
        )
    assert _leftovers(tmp_path) == ["one", "one/a.yml", "two", "two/b.yml"]


def test_a_commit_that_fails_leaves_no_staged_file(tmp_path: Path) -> None:
    def commit(staged: list[Staged]) -> None:
        staged[0].commit()
        raise OSError("a disk that fills up")

    with pytest.raises(OSError, match="fills up"):
        write_together(
            [(tmp_path / "one", {"a.yml": "a"}), (tmp_path / "two", {"b.yml": "b"})], commit
        )
    assert _leftovers(tmp_path) == ["one", "one/a.yml"]  # only what was put in place


@pytest.fixture
def children_reaped_elsewhere() -> Iterator[None]:
    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps them
    yield
    signal.signal(signal.SIGCHLD, before)


@pytest.mark.usefixtures("children_reaped_elsewhere")
def test_workers_reaped_elsewhere_are_still_waited_for(tmp_path: Path) -> None:
    _together([(tmp_path / "one", {"a.yml": "a"}), (tmp_path / "two", {"b.yml": "b"})])
    assert _leftovers(tmp_path) == ["one", "one/a.yml", "two", "two/b.yml"]
    with pytest.raises(OutputError, match=r"ended \(unknown\)"):
        _together([(tmp_path / "one", {}), (tmp_path / "three", DeferredFiles({"c": _killed}))])
    assert not (tmp_path / "three").exists()


def test_a_worker_keeps_signals_this_process_ignores(tmp_path: Path) -> None:
    # A background job of a non-interactive shell ignores SIGINT; so do its workers.
    def interrupted() -> str:
        os.kill(os.getpid(), signal.SIGINT)
        return "written\n"

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _together([(tmp_path / "one", {}), (tmp_path / "two", DeferredFiles({"b": interrupted}))])
    finally:
        signal.signal(signal.SIGINT, before)
    assert (tmp_path / "two" / "b").read_text() == "written\n"


def test_held_signals_put_every_handler_back_when_a_signal_arrives_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = {stop: signal.getsignal(stop) for stop in (signal.SIGTERM, signal.SIGINT)}
    held = HeldSignals().__enter__()
    put = signal.signal

    def a_sigterm_just_then(stop: int, handler: object) -> object:
        previous = put(stop, handler)  # type: ignore[arg-type]
        if stop == signal.SIGTERM:  # its handler, back in place, raises at once
            raise SystemExit(143)
        return previous

    monkeypatch.setattr(signal, "signal", a_sigterm_just_then)
    with pytest.raises(SystemExit):
        held.release()
    monkeypatch.undo()
    assert {stop: signal.getsignal(stop) for stop in before} == before
