"""Definition files on disk to validated specs (the I/O half of `spec`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sloguard.errors import SpecError, SpecProblem
from sloguard.spec.model import ServiceSLOs, merge_services
from sloguard.spec.reading import read_definitions
from sloguard.spec.validation import Validated, validate

DEFINITION_SUFFIXES = (".yaml", ".yml")
DEFAULT_DEFINITIONS = Path("slo-definitions")


@dataclass(frozen=True)
class Loaded:
    """Valid definitions, merged per service, with the files each service came from."""

    services: list[ServiceSLOs]
    sources: dict[str, list[str]]
    validated: list[Validated]

    @property
    def slo_count(self) -> int:
        return sum(len(s.slos) for s in self.services)


def definition_files(paths: Sequence[Path]) -> tuple[list[Path], list[SpecProblem]]:
    """YAML files named or found (recursively) under `paths`, in a stable order."""
    files: list[Path] = []
    problems: list[SpecProblem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in DEFINITION_SUFFIXES and p.is_file()
            )
            if not found:
                problems.append(
                    SpecProblem(
                        str(path), None, None, None, None, "no .yaml or .yml definition files here"
                    )
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(SpecProblem(str(path), None, None, None, None, "no such file"))
    return list(dict.fromkeys(files)), problems


def load(paths: Sequence[Path]) -> Loaded:
    """Read, detect, translate and validate; raises SpecError listing every problem."""
    files, problems = definition_files(paths)
    texts: dict[str, str] = {}
    for file in files:
        try:
            texts[str(file)] = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(SpecProblem(str(file), None, None, None, None, f"unreadable: {exc}"))
    definitions, read_problems = read_definitions(texts)
    validated, invalid = validate(definitions)
    problems += read_problems + invalid
    if problems:
        raise SpecError(problems)
    return _loaded(validated)


def _loaded(validated: Iterable[Validated]) -> Loaded:
    validated = list(validated)
    sources: dict[str, list[str]] = {}
    for item in validated:
        sources.setdefault(item.spec.service, []).append(item.source.file)
    return Loaded(merge_services(v.spec for v in validated), sources, validated)


def default_paths() -> list[Path]:
    """`./slo-definitions/`, else the examples bundled in the wheel, else the checkout's own."""
    bundled = Path(str(resources.files("sloguard") / "examples"))
    checkout = Path(__file__).resolve().parents[2] / DEFAULT_DEFINITIONS
    for candidate in (DEFAULT_DEFINITIONS, bundled, checkout):
        if candidate.is_dir():
            return [candidate]
    return [DEFAULT_DEFINITIONS]
