"""The command line: ``clearway server | users | keys | env | db | backup | restore | gateway``."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from clearway.cli_admin import allowlist_app, audit_app, groups_app, shares_app
from clearway.cli_gateway import gateway_app
from clearway.cli_notify import notify_app
from clearway.domain.accounts import operator
from clearway.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="Clearway: a ClearML-compatible MLOps server for a shared GPU cluster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(groups_app, name="groups")
app.add_typer(shares_app, name="shares")
app.add_typer(allowlist_app, name="allowlist")
app.add_typer(audit_app, name="audit")
app.add_typer(notify_app, name="notify")
app.add_typer(gateway_app, name="gateway")

DEFAULT_ORG = "default"


def _services():  # type: ignore[no-untyped-def]
    from clearway.app import OutdatedSchema, prepare_database
    from clearway.services import Services

    settings = Settings()
    try:
        prepare_database(settings)
    except OutdatedSchema as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    return Services.build(settings)


def _run(action: Callable[[], T]) -> T:
    """Run a domain operation; its error is printed, not thrown as a traceback."""
    from clearway.errors import ClearwayError

    try:
        return action()
    except ClearwayError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc


def _user(services, name: str) -> dict:  # type: ignore[no-untyped-def]
    user = services.stores.identity.find_user(name)
    if user is None:
        typer.echo(f"No such user: {name} (create it with: clearway users create {name})", err=True)
        raise typer.Exit(1)
    return user


@app.command()
def server(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes sharing the port (default CLEARWAY_WORKERS, 1).")
    ] = None,
) -> None:
    """Run the server: ClearML API and file server on one port."""
    from clearway.app import OutdatedSchema, prepare_database
    from clearway.ops.logs import configure_logging
    from clearway.ops.serve import serve

    settings = Settings()
    configure_logging(settings)
    url = settings.resolved_database_url
    try:
        prepare_database(settings)
    except OutdatedSchema as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    typer.echo(f"Clearway listening on http://{host}:{port} (ClearML API at /, files at /files), {workers} process(es)")
    typer.echo(f"Data: {settings.data_dir.resolve()}  Database: {_safe_url(url)}")
    typer.echo('Credentials: clearway users create NAME; eval "$(clearway env NAME --url http://HOST:PORT)"')
    if not url.startswith("sqlite") and not settings.token_secret:
        typer.echo("Warning: CLEARWAY_TOKEN_SECRET is not set: replicas must share it to accept each other's tokens")
    serve(settings, host, port, workers)


@users_app.command("create")
def users_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin, user or agent")] = "user",
    org: Annotated[str, typer.Option(help="Organisation")] = DEFAULT_ORG,
) -> None:
    """Create a user."""
    from clearway.domain.identity import Role

    if role not in {r.value for r in Role}:
        typer.echo(f"Unknown role {role!r}: use admin, user or agent", err=True)
        raise typer.Exit(2)
    services = _services()
    org_doc = services.stores.identity.ensure_org(org)
    user = _run(lambda: services.accounts.create_user(operator(org_doc["id"]), name, Role(role)))
    typer.echo(f"Created {role} {name} ({user['id']}) in {org}")


@users_app.command("set-role")
def users_set_role(name: str, role: Annotated[str, typer.Argument(help="admin, user or agent")]) -> None:
    """Change a user's role (an organisation keeps at least one admin)."""
    from clearway.domain.identity import Role

    if role not in {r.value for r in Role}:
        typer.echo(f"Unknown role {role!r}: use admin, user or agent", err=True)
        raise typer.Exit(2)
    services = _services()
    user = _user(services, name)
    _run(lambda: services.accounts.set_role(operator(user["org_id"]), user["id"], Role(role)))
    typer.echo(f"{name} is now {role}")


@users_app.command("set-password")
def users_set_password(
    name: str,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the password from one line of standard input.")] = False,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the password instead.")] = False,
) -> None:
    """Set a user's password (kept only as an argon2 hash); it logs in to auth.login as NAME:PASSWORD."""
    import sys

    services = _services()
    user = _user(services, name)
    if remove:
        password = None
    elif stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _run(lambda: services.accounts.set_password(operator(user["org_id"]), user["id"], password))
    typer.echo(f"Password of {name} {'removed' if remove else 'set'}")


@users_app.command("list")
def users_list() -> None:
    """List users."""
    for user in _services().stores.identity.list_users():
        typer.echo(f"{user['name']}\t{user['role']}\t{user['id']}")


def _new_key(services, name: str):  # type: ignore[no-untyped-def]
    user = _user(services, name)
    return services.accounts.create_key(operator(user["org_id"]), user["id"])


@keys_app.command("create")
def keys_create(name: str) -> None:
    """Create a key pair for a user; the secret is shown once."""
    pair = _new_key(_services(), name)
    typer.echo(f"access_key: {pair.access_key}\nsecret_key: {pair.secret_key}")


@keys_app.command("list")
def keys_list(name: str) -> None:
    """List a user's keys."""
    services = _services()
    for key in services.stores.identity.list_keys(_user(services, name)["id"]):
        state = f"revoked {key['revoked']}" if key["revoked"] else "active"
        typer.echo(f"{key['access_key']}\tcreated {key['created']}\t{state}")


@keys_app.command("revoke")
def keys_revoke(access_key: str) -> None:
    """Revoke a key: its tokens stop working within seconds."""
    services = _services()
    record = services.stores.identity.get_key(access_key)
    org_id = record.identity.org_id if record else ""
    _run(lambda: services.accounts.revoke_key(operator(org_id), access_key))
    typer.echo(f"Revoked {access_key}")


@app.command()
def env(
    name: str,
    url: Annotated[str, typer.Option(help="Base URL of this server as clients reach it.")] = "http://127.0.0.1:8008",
) -> None:
    """Create a key pair for NAME and print the CLEARML_* exports that point the SDK here."""
    pair = _new_key(_services(), name)
    base = url.rstrip("/")
    exports = {
        "CLEARML_API_HOST": base,
        "CLEARML_WEB_HOST": base,
        "CLEARML_FILES_HOST": f"{base}/files",
        "CLEARML_API_ACCESS_KEY": pair.access_key,
        "CLEARML_API_SECRET_KEY": pair.secret_key,
    }
    for key, value in exports.items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@app.command()
def backup(dest: Annotated[Path, typer.Argument(help="A new (or empty) directory to write the backup to.")]) -> None:
    """Back up the database (a consistent snapshot, taken while the server runs), the local files and the token
    signing secret into DEST."""
    from clearway.ops.backup import Backup

    manifest = _backup_step(lambda: Backup(Settings()).create(dest))
    typer.echo(f"Backed up the {manifest['database']} database (schema {manifest['schema']}) to {dest}")


@app.command()
def restore(src: Annotated[Path, typer.Argument(help="A directory made by clearway backup.")]) -> None:
    """Restore a backup into an empty database and data directory (those the settings name)."""
    from clearway.ops.backup import Backup

    manifest = _backup_step(lambda: Backup(Settings()).restore(src))
    typer.echo(f"Restored the backup of {manifest['created']} (schema {manifest['schema']})")


def _backup_step(action: Callable[[], T]) -> T:
    """Run a backup or restore; why it cannot be done is printed, not thrown as a traceback."""
    from clearway.ops.backup import BackupError

    try:
        return action()
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from clearway.store import migrations
    from clearway.store.sql.locks import exclusive

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(settings.resolved_database_url, "schema"):
        migrations.upgrade(settings.resolved_database_url)
    typer.echo(f"Schema at {migrations.current_revision(settings.resolved_database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
