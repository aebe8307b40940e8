"""The benchmark's smoke mode runs end to end, so that its code cannot rot (its figures are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import PG_ADMIN_URL, backend

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_measures_every_section_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--smoke", "--databases", backend(), "--out", str(out)]
    command += ["--pg-admin-url", PG_ADMIN_URL]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]

    report = json.loads((out / "latest.json").read_text())
    sections = {r["section"] for r in report["results"]}
    assert {"footprint", "ingest", "reads", "listing"} <= sections
    assert all(r["value"] > 0 for r in report["results"])
    assert "| section | measure |" in (out / "latest.md").read_text()
    assert "| section | measure |" in done.stdout
