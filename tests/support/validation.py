"""Definitions given as text, and the problems validation finds in them."""

from __future__ import annotations

import textwrap

from sloguard.errors import SpecProblem
from sloguard.spec.reading import read_definitions
from sloguard.validation import validate

GOOD = """\
service: api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        errors: sum(rate(e[{{window}}]))
        total: sum(rate(t[{{window}}]))
"""


def problems_of(**files: str) -> list[SpecProblem]:
    texts = {name: textwrap.dedent(text) for name, text in files.items()}
    reading = read_definitions(texts)
    _, invalid = validate(reading.definitions)
    return reading.problems + invalid


def only_problem(text: str) -> SpecProblem:
    found = problems_of(**{"api.yaml": text})
    assert len(found) == 1, found
    return found[0]
