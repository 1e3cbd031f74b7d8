"""Definition files on disk to validated specs (the I/O half of `spec`)."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sloguard.errors import SpecError, SpecProblem
from sloguard.spec.model import ServiceSLOs, merge_services
from sloguard.spec.reading import read_definitions
from sloguard.validation import Validated, validate

DEFINITION_SUFFIXES = (".yaml", ".yml")
DEFAULT_DEFINITIONS = Path("slo-definitions")
# A definition file is a few KiB; anything near this is a mistake or an attack, refused unread.
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Loaded:
    """Valid definitions, merged per service, with the files each service came from and their
    text as read (what the console shows as written)."""

    services: list[ServiceSLOs]
    sources: dict[str, list[str]]
    warnings: list[SpecProblem] = field(default_factory=list)  # read but left out, and why
    texts: dict[str, str] = field(default_factory=dict)  # file -> its text

    @property
    def slo_count(self) -> int:
        return sum(len(s.slos) for s in self.services)


def definition_files(paths: Sequence[Path]) -> tuple[list[Path], list[SpecProblem]]:
    """YAML files named or found (recursively) under `paths`, in a stable order; a symbolic link
    that leads nowhere is a problem, never a file silently left out."""
    files: list[Path] = []
    problems: list[SpecProblem] = []
    for path in paths:
        if path.is_dir():
            named = sorted(p for p in path.rglob("*") if p.suffix in DEFINITION_SUFFIXES)
            broken = [_problem(p, why) for p in named if (why := _broken_link(p))]
            found = [p for p in named if p.is_file()]
            if not found and not broken:
                problems.append(_problem(path, "no .yaml or .yml definition files here"))
            files.extend(found)
            problems.extend(broken)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(_problem(path, _broken_link(path) or "no such file"))
    return list(dict.fromkeys(files)), problems


def _broken_link(path: Path) -> str | None:
    """Why `path` is a symbolic link that cannot be followed, or None if it is not one."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            with contextlib.suppress(OSError):  # the link itself may be gone by now
                return f"broken symbolic link to {path.readlink()}"
            return "broken symbolic link"
        return f"symbolic link cannot be followed: {exc.strerror}"
    return None


def _problem(path: Path, message: str) -> SpecProblem:
    return SpecProblem(str(path), None, None, None, None, message)


def load(paths: Sequence[Path]) -> Loaded:
    """Read, detect, translate and validate; raises SpecError listing every problem."""
    files, problems = definition_files(paths)
    texts: dict[str, str] = {}
    for file in files:
        try:
            with file.open("rb") as stream:
                data = stream.read(MAX_FILE_BYTES + 1)  # one byte more tells it is too large
            if len(data) > MAX_FILE_BYTES:
                limit = f"larger than {MAX_FILE_BYTES // 1024} KiB, the limit for a definition file"
                problems.append(_problem(file, limit))
            else:
                texts[str(file)] = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(_problem(file, f"unreadable: {exc}"))
    reading = read_definitions(texts)
    validated, invalid = validate(reading.definitions)
    problems += reading.problems + invalid
    if problems:
        raise SpecError(problems)
    return _loaded(validated, reading.warnings, texts)


def _loaded(
    validated: Iterable[Validated], warnings: list[SpecProblem], texts: Mapping[str, str]
) -> Loaded:
    validated = list(validated)
    sources: dict[str, list[str]] = {}
    for item in validated:
        sources.setdefault(item.spec.service, []).append(item.source.file)
    used = {file: texts[file] for files in sources.values() for file in files if file in texts}
    services = merge_services(v.spec for v in validated)
    return Loaded(services, sources, sorted(warnings), used)


def default_paths() -> list[Path]:
    """`./slo-definitions/`, else the examples bundled in the wheel, else the checkout's own."""
    bundled = Path(str(resources.files("sloguard") / "examples"))
    checkout = Path(__file__).resolve().parents[2] / DEFAULT_DEFINITIONS
    for candidate in (DEFAULT_DEFINITIONS, bundled, checkout):
        if candidate.is_dir():
            return [candidate]
    return [DEFAULT_DEFINITIONS]
