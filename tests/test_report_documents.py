"""A report's documents on disk: every format, whole and per service, written all or none, the
PDF printed by Debian's Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sloguard.errors import OutputError
from sloguard.reporting import write
from sloguard.reports.build import build
from tests.support.reports import inputs

pytestmark = pytest.mark.integration  # starts Chromium


def test_every_format_is_written_whole_and_per_service(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    written = write(build(inputs()), tmp_path, ["json", "markdown", "html", "pdf"])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([p.name for p in written] + ["keep.txt"])
    assert len(written) == 8  # four formats, the whole report and the shop's
    pdf = (tmp_path / "slo-report-2026-W47.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2  # the summary, then the service


def test_a_directory_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot create"):
        write(build(inputs()), tmp_path / "file" / "out", ["json"])


def test_a_document_that_cannot_be_put_in_place_leaves_the_printed_ones_out_too(
    tmp_path: Path,
) -> None:
    report = build(inputs())
    write(report, tmp_path, ["json", "pdf"])  # last week's documents
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    whole = tmp_path / "slo-report-2026-W47.json"
    whole.unlink()
    whole.mkdir()  # in the way of the whole report, which goes in place last
    with pytest.raises(OutputError, match="every file is as it was"):
        write(report, tmp_path, ["json", "pdf"])
    whole.rmdir()
    del before[whole.name]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # the PDFs too
