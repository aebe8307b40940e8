"""``clearway notify``: the operator manages notification subscriptions for a user, or sees an organisation's,
through the same domain operations as ``/events`` and the admin API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

notify_app = typer.Typer(help="Live notifications: subscriptions and their deliveries.", no_args_is_help=True)
Org = Annotated[str, typer.Option(help="Organisation")]


def _as_user(name: str) -> tuple[Any, Any]:
    """The services and the named user's identity, with its groups and shares, as its requests would carry it."""
    from clearway.cli import _services, _user

    services = _services()
    session = services.auth.sessions.for_user(_user(services, name)["id"])
    return services, session.identity


def _run(action: Any) -> Any:
    from clearway.cli import _run

    return _run(action)


@notify_app.command("kinds")
def kinds() -> None:
    """The event kinds one may subscribe to."""
    from clearway.domain.subscriptions import kinds_catalog

    for kind in kinds_catalog():
        admins = "  (admins)" if kind["admins_only"] else ""
        typer.echo(f"{kind['kind']}\t{kind['description']}{admins}")


@notify_app.command("subscribe")
def subscribe(
    user: Annotated[str, typer.Argument(help="Whose subscription it is.")],
    kind: Annotated[list[str], typer.Option(help="An event kind (task.completed), a category (task.*), or *.")],
    webhook: Annotated[str | None, typer.Option(help="POST each event to this http(s) URL.")] = None,
    email: Annotated[str | None, typer.Option(help="Send digests to this address.")] = None,
    mqtt: Annotated[bool, typer.Option("--mqtt", help="Publish each event to the MQTT broker.")] = False,
    scope: Annotated[str, typer.Option(help="Task events: mine, or all the user may read.")] = "mine",
    project: Annotated[list[str] | None, typer.Option(help="Task events: only in this project (id).")] = None,
    task: Annotated[list[str] | None, typer.Option(help="Task events: only this task (id).")] = None,
    description: str = "",
) -> None:
    """Subscribe a user to events on one channel; a webhook's signing secret is printed once."""
    chosen = [name for name, on in (("webhook", webhook), ("email", email), ("mqtt", mqtt)) if on]
    if len(chosen) != 1:
        typer.echo("Name exactly one channel: --webhook URL, --email ADDRESS or --mqtt", err=True)
        raise typer.Exit(2)
    fields = {"channel": chosen[0], "kinds": kind, "scope": scope, "projects": project or [], "tasks": task or []}
    fields.update({"url": webhook} if webhook else {"email": email} if email else {})
    services, me = _as_user(user)
    made = _run(lambda: services.subscriptions.create(me, {**fields, "description": description}))
    typer.echo(f"Subscribed {user} ({made['id']})")
    if made.get("secret"):
        typer.echo(f"signing secret: {made['secret']}")
    if made.get("topics"):
        typer.echo(f"MQTT topics: {made['topics']}")


@notify_app.command("list")
def list_subscriptions(
    user: Annotated[str | None, typer.Argument(help="Only this user's (default: the organisation's).")] = None,
    org: Org = "default",
) -> None:
    from clearway.cli_admin import _context

    if user:
        services, me = _as_user(user)
        found = services.subscriptions.list(me)
    else:
        services, me = _context(org)
        found = _run(lambda: services.subscriptions.list_all(me))
    for sub in found:
        state = "on" if sub["enabled"] else "off"
        typer.echo(f"{sub['id']}\t{sub['owner']}\t{sub['channel']}\t{sub['target']}\t{','.join(sub['kinds'])}\t{state}")


@notify_app.command("remove")
def remove(subscription_id: str, org: Org = "default") -> None:
    from clearway.cli_admin import _context

    services, me = _context(org)
    _run(lambda: services.subscriptions.delete_any(me, subscription_id))
    typer.echo(f"Removed {subscription_id}")


@notify_app.command("deliveries")
def deliveries(
    state: Annotated[str | None, typer.Option(help="pending, delivered or dead (default: all).")] = None,
    limit: int = 100,
    org: Org = "default",
) -> None:
    """The organisation's deliveries, newest first, one JSON document a line."""
    from clearway.cli_admin import _context

    services, me = _context(org)
    for delivery in _run(lambda: services.subscriptions.deliveries_of_all(me, state, limit)):
        typer.echo(json.dumps(delivery))


@notify_app.command("retry")
def retry(delivery_id: int, org: Org = "default") -> None:
    """Send a dead letter again now."""
    from clearway.cli_admin import _context

    services, me = _context(org)
    _run(lambda: services.subscriptions.retry_any(me, delivery_id))
    typer.echo(f"Delivery {delivery_id} is due again")
