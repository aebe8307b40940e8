"""The operator's commands for groups, project shares, address allowlists and the audit log.

They act in one organisation (``--org``) with an admin's reach, through the same domain operations as the admin
API, so every change is audited the same way.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

groups_app = typer.Typer(help="Manage groups of users.", no_args_is_help=True)
shares_app = typer.Typer(help="Share projects with users and groups.", no_args_is_help=True)
allowlist_app = typer.Typer(help="Restrict the client addresses users may call from.", no_args_is_help=True)
audit_app = typer.Typer(help="Read the audit log.", no_args_is_help=True)

Org = Annotated[str, typer.Option(help="Organisation")]


def _context(org: str) -> tuple[Any, Any]:
    """The services and the operator's identity in that organisation."""
    from clearway.cli import _services
    from clearway.domain.accounts import operator

    services = _services()
    return services, operator(services.stores.identity.ensure_org(org)["id"])


def _user_id(services: Any, name: str) -> str:
    from clearway.cli import _user

    return str(_user(services, name)["id"])


def _group_id(services: Any, me: Any, name: str) -> str:
    for group in services.sharing.list_groups(me):
        if group["name"] == name:
            return str(group["id"])
    typer.echo(f"No such group: {name}", err=True)
    raise typer.Exit(1)


def _run(action: Any) -> Any:
    from clearway.cli import _run

    return _run(action)


@groups_app.command("create")
def groups_create(name: str, org: Org = "default") -> None:
    services, me = _context(org)
    group = _run(lambda: services.sharing.create_group(me, name))
    typer.echo(f"Created group {name} ({group['id']})")


@groups_app.command("list")
def groups_list(org: Org = "default") -> None:
    services, me = _context(org)
    names = {user["id"]: user["name"] for user in services.accounts.users(me)}
    for group in services.sharing.list_groups(me):
        members = ",".join(names.get(m, m) for m in group["members"])
        typer.echo(f"{group['name']}\t{group['id']}\t{members}")


@groups_app.command("delete")
def groups_delete(name: str, org: Org = "default") -> None:
    services, me = _context(org)
    _run(lambda: services.sharing.delete_group(me, _group_id(services, me, name)))
    typer.echo(f"Deleted group {name} and its shares")


@groups_app.command("add-member")
def groups_add_member(group: str, user: str, org: Org = "default") -> None:
    services, me = _context(org)
    _run(lambda: services.sharing.set_member(me, _group_id(services, me, group), _user_id(services, user), True))
    typer.echo(f"{user} is in {group}")


@groups_app.command("remove-member")
def groups_remove_member(group: str, user: str, org: Org = "default") -> None:
    services, me = _context(org)
    _run(lambda: services.sharing.set_member(me, _group_id(services, me, group), _user_id(services, user), False))
    typer.echo(f"{user} is no longer in {group}")


def _grantee(services: Any, me: Any, user: str | None, group: str | None) -> tuple[Any, str]:
    from clearway.domain.sharing import GranteeType

    if (user is None) == (group is None):
        typer.echo("Name exactly one of --user or --group", err=True)
        raise typer.Exit(2)
    if user is not None:
        return GranteeType.USER, _user_id(services, user)
    return GranteeType.GROUP, _group_id(services, me, str(group))


@shares_app.command("grant")
def shares_grant(
    project_id: str,
    user: Annotated[str | None, typer.Option(help="Share with this user.")] = None,
    group: Annotated[str | None, typer.Option(help="Share with this group.")] = None,
    mode: Annotated[str, typer.Option(help="read or write")] = "read",
    org: Org = "default",
) -> None:
    """Share a project (with its subprojects and everything in them)."""
    from clearway.domain.sharing import ShareMode

    if mode not in {m.value for m in ShareMode}:
        typer.echo("--mode is read or write", err=True)
        raise typer.Exit(2)
    services, me = _context(org)
    kind, grantee = _grantee(services, me, user, group)
    _run(lambda: services.sharing.share(me, project_id, kind, grantee, ShareMode(mode)))
    typer.echo(f"Shared {project_id} with {kind.value} {user or group} ({mode})")


@shares_app.command("revoke")
def shares_revoke(
    project_id: str,
    user: Annotated[str | None, typer.Option(help="The user it was shared with.")] = None,
    group: Annotated[str | None, typer.Option(help="The group it was shared with.")] = None,
    org: Org = "default",
) -> None:
    services, me = _context(org)
    kind, grantee = _grantee(services, me, user, group)
    _run(lambda: services.sharing.unshare(me, project_id, kind, grantee))
    typer.echo(f"{project_id} is no longer shared with {kind.value} {user or group}")


@shares_app.command("list")
def shares_list(project_id: str, org: Org = "default") -> None:
    services, me = _context(org)
    for share in _run(lambda: services.sharing.shares(me, project_id)):
        typer.echo(f"{share['grantee_type']}\t{share['grantee_name']}\t{share['mode']}")


@allowlist_app.command("show")
def allowlist_show(org: Org = "default") -> None:
    services, me = _context(org)
    typer.echo(json.dumps(services.allowlists.show(me), indent=2))


@allowlist_app.command("set")
def allowlist_set(
    cidrs: Annotated[list[str] | None, typer.Argument(help="CIDR ranges; none lifts the restriction.")] = None,
    role: Annotated[str | None, typer.Option(help="The list of this role.")] = None,
    user: Annotated[str | None, typer.Option(help="The list of this user.")] = None,
    org: Org = "default",
) -> None:
    """Replace one allowlist: the organisation's (default), a role's or a user's."""
    from clearway.domain.allowlists import Level

    services, me = _context(org)
    if role is not None and user is not None:
        typer.echo("Name at most one of --role or --user", err=True)
        raise typer.Exit(2)
    level, subject = (
        (Level.ROLE, role) if role else (Level.USER, _user_id(services, user)) if user else (Level.ORG, None)
    )
    ranges = _run(lambda: services.allowlists.replace(me, level, subject, list(cidrs or [])))
    typer.echo(f"{level.value} {role or user or org}: {', '.join(ranges) or 'no restriction'}")


@audit_app.command("list")
def audit_list(
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. auth.login_failed.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's actions.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    unattributed: Annotated[
        bool, typer.Option("--unattributed", help="Instead: entries of no organisation (unknown keys, names).")
    ] = False,
    org: Org = "default",
) -> None:
    """The organisation's audit log, newest first, one JSON object a line."""
    services, me = _context(org)
    if unattributed:
        entries = services.audit.unattributed(action=action, page_size=limit)
    else:
        user_id = _user_id(services, user) if user else None
        entries = _run(lambda: services.audit.entries(me, action=action, user_id=user_id, page_size=limit))
    for entry in entries:
        typer.echo(json.dumps(entry, default=str))
