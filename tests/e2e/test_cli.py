"""The command line as an operator uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clearway.store import migrations
from tests.support.databases import fresh_database
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


def test_env_prints_posix_exports_that_a_shell_can_eval(server: ServerProcess):
    server.cli("users", "create", "shelly")
    out = server.cli("env", "shelly", "--url", server.url).stdout
    script = (
        f'eval "$(cat <<\'EOF\'\n{out}EOF\n)"; echo "$CLEARML_API_HOST|$CLEARML_FILES_HOST|$CLEARML_API_ACCESS_KEY"'
    )
    host, files, key = (
        subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout.strip().split("|")
    )
    assert host == server.url and files == f"{server.url}/files" and len(key) >= 20
    assert "CLEARML_WEB_HOST" in out and "CLEARML_API_SECRET_KEY" in out


def test_keys_list_and_revoke(server: ServerProcess):
    creds = server.user("keyholder")
    listed = server.cli("keys", "list", "keyholder").stdout
    assert creds["CLEARML_API_ACCESS_KEY"] in listed and "active" in listed
    server.cli("keys", "revoke", creds["CLEARML_API_ACCESS_KEY"])
    assert "revoked" in server.cli("keys", "list", "keyholder").stdout
    again = server.cli("keys", "revoke", creds["CLEARML_API_ACCESS_KEY"], check=False)
    assert again.returncode != 0


def test_unknown_role_and_duplicate_user_are_refused(server: ServerProcess):
    assert server.cli("users", "create", "x", "--role", "emperor", check=False).returncode != 0
    server.cli("users", "create", "twice")
    assert server.cli("users", "create", "twice", check=False).returncode != 0


def test_server_refuses_a_database_whose_schema_is_older(tmp_path: Path):
    """An empty database gets its schema at start; one at an older revision is refused, never upgraded silently."""
    with fresh_database(tmp_path) as url:
        migrations.upgrade(url, "0001")
        env_server = ServerProcess(data_dir=tmp_path, database_url=url)
        result = subprocess.run(
            [sys.executable, "-m", "clearway", "server", "--port", str(env_server.port)],
            env=env_server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "Run: clearway db upgrade" in result.stderr
