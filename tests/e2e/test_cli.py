"""The command line as an operator uses it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from clearway.store import migrations
from tests.e2e.api import call, data
from tests.support.clients import client_for
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


def _reads(client: httpx.Client, project: str) -> bool:
    return call(client, "projects.get_by_id", {"project": project}).status_code == 200


def _until(condition, what: str) -> None:
    """Sessions are cached for a few seconds: a change of membership shows within that, not at once."""
    deadline = time.monotonic() + 15
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_groups_and_shares_from_the_command_line(server: ServerProcess):
    tag = uuid.uuid4().hex[:6]
    owner, friend, group = f"sharer-{tag}", f"friend-{tag}", f"team-{tag}"
    with client_for(server, server.user(owner)) as mine, client_for(server, server.user(friend)) as theirs:
        project = data(call(mine, "projects.create", {"name": f"cli-shared-{tag}"}))["id"]
        assert not _reads(theirs, project)
        server.cli("groups", "create", group)
        server.cli("groups", "add-member", group, friend)
        granted = server.cli("shares", "grant", project, "--group", group).stdout
        assert granted.strip() == f"Shared {project} with group {group} (read)"
        assert server.cli("shares", "list", project).stdout.splitlines() == [f"group\t{group}\tread"]
        _until(lambda: _reads(theirs, project), "the group's member never saw the shared project")

        server.cli("groups", "remove-member", group, friend)
        assert server.cli("groups", "list").stdout.count(f"{group}\t") == 1
        assert f"{friend}" not in next(line for line in server.cli("groups", "list").stdout.splitlines()
                                       if line.startswith(f"{group}\t"))  # fmt: skip
        _until(lambda: not _reads(theirs, project), "a removed member still read the group's project")

        server.cli("shares", "grant", project, "--user", friend, "--mode", "write")
        listed = sorted(server.cli("shares", "list", project).stdout.splitlines())
        assert listed == sorted([f"group\t{group}\tread", f"user\t{friend}\twrite"])
        revoked = server.cli("shares", "revoke", project, "--user", friend).stdout
        assert revoked.strip() == f"{project} is no longer shared with user {friend}"
        assert server.cli("shares", "list", project).stdout.splitlines() == [f"group\t{group}\tread"]
        assert server.cli("shares", "revoke", project, "--user", friend, check=False).returncode != 0

        # Deleting a group takes the shares given to it along: none is left behind, pointing at nothing.
        assert server.cli("groups", "delete", group).stdout.strip() == f"Deleted group {group} and its shares"
        assert server.cli("shares", "list", project).stdout == ""
        assert f"{group}\t" not in server.cli("groups", "list").stdout
        gone = server.cli("groups", "delete", group, check=False)
        assert (gone.returncode, gone.stderr.strip()) == (1, f"No such group: {group}")


@pytest.mark.parametrize(
    "args",
    [
        ["--user", "x", "--group", "y"],  # exactly one grantee
        [],
        ["--user", "x", "--mode", "admin"],
    ],
    ids=["both", "neither", "bad-mode"],
)
def test_share_commands_refuse_unclear_grantees(server: ServerProcess, args: list[str]):
    result = server.cli("shares", "grant", "0" * 32, *args, check=False)
    assert result.returncode == 2 and result.stdout == ""
