"""clearway backup while the server runs, then clearway restore into a new data directory (and a new, empty
database): the course notebook's task, model, artifacts and datasets read back the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_notebook import NOTEBOOK, READ_BACK
from tests.support.databases import fresh_database
from tests.support.sdk import last_line_value, run_sdk
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.e2e


def read_back(creds: dict[str, str], workdir: Path, ids: dict[str, str]) -> dict:
    ran = run_sdk(READ_BACK, creds, workdir, ids["task"], ids["model"], timeout=300)
    return json.loads(last_line_value(ran.stdout, "RESULT"))


def test_backup_then_restore_reads_back_the_same(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    with running_server(tmp_path / "original") as original:
        creds = original.user("notebook")
        ran = run_sdk(NOTEBOOK, creds, tmp_path / "notebook", timeout=300)
        ids = json.loads(last_line_value(ran.stdout, "RESULT"))
        before = read_back(creds, tmp_path / "read-before", ids)
        done = original.cli("backup", str(backup))  # online: the server keeps running
        assert "Backed up" in done.stdout
        assert original.cli("backup", str(backup), check=False).returncode == 1  # never over another backup
        port = original.port
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["files"] == "local" and manifest["schema"]

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    with fresh_database(restored_dir) as url:
        # The same address: the stored model and artifact URLs name the server's files host.
        restored = ServerProcess(data_dir=restored_dir, database_url=url, port=port)
        assert "Restored" in restored.cli("restore", str(backup)).stdout
        assert "not empty" in restored.cli("restore", str(backup), check=False).stderr
        restored.start()
        try:
            after = read_back(creds, tmp_path / "read-after", ids)
        finally:
            restored.stop()
    assert after == before
    assert after["status"] == "published" and after["latest"][2] == ["a.csv", "b.txt", "c.csv"]
