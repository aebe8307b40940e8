"""``clearway gateway``: serving machines, endpoints, enqueue templates and gateway tokens, as the operator.

A new record belongs to the owner of the task it names. Each ``add``/``create`` prints the new id (a token:
the token itself) on its own last line, for scripts.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

gateway_app = typer.Typer(
    help="The gateway: serving machines, endpoints, enqueue templates, tokens.", no_args_is_help=True
)
machines_app = typer.Typer(help="Serving machines (clearml-serving inference apps).", no_args_is_help=True)
endpoints_app = typer.Typer(help="Endpoints of serving machines.", no_args_is_help=True)
templates_app = typer.Typer(
    help="Enqueue templates: a task and a queue, with overridable params.", no_args_is_help=True
)
tokens_app = typer.Typer(help="Gateway tokens for applications.", no_args_is_help=True)
gateway_app.add_typer(machines_app, name="machines")
gateway_app.add_typer(endpoints_app, name="endpoints")
gateway_app.add_typer(templates_app, name="templates")
gateway_app.add_typer(tokens_app, name="tokens")

Org = Annotated[str, typer.Option(help="Organisation")]


def _context(org: str) -> tuple[Any, Any]:
    from clearway.cli_admin import _context

    return _context(org)


def _run(action: Any) -> Any:
    from clearway.cli import _run

    return _run(action)


def _kind(name: str) -> Any:
    from clearway.domain.gateway.records import Kind

    return Kind(name)


@machines_app.command("add")
def machines_add(
    serving_task: Annotated[str, typer.Option("--serving-task", help="The clearml-serving service task id.")],
    url: Annotated[str, typer.Option(help="Where its inference app listens: http://HOST:PORT")],
    name: Annotated[str | None, typer.Option(help="A name to show (default: the task's).")] = None,
    org: Org = "default",
) -> None:
    """Register a serving machine."""
    services, me = _context(org)
    record = _run(lambda: services.gateway.records.create_machine(me, serving_task, url, name, as_task_owner=True))
    typer.echo(f"Created machine {record['name']} at {record['url']}")
    typer.echo(record["id"])


@endpoints_app.command("add")
def endpoints_add(
    machine: Annotated[str, typer.Option(help="The machine's id.")],
    endpoint: Annotated[str, typer.Option(help="The endpoint's name in clearml-serving.")],
    org: Org = "default",
) -> None:
    """Register an endpoint of a serving machine."""
    services, me = _context(org)
    record = _run(lambda: services.gateway.records.create_endpoint(me, machine, endpoint))
    typer.echo(f"Created endpoint {record['endpoint']} on machine {record['machine_name']}")
    typer.echo(record["id"])


@templates_app.command("add")
def templates_add(
    task: Annotated[str, typer.Option(help="The task each run clones.")],
    queue: Annotated[str, typer.Option(help="The queue runs go to (name or id).")],
    param: Annotated[
        list[str] | None, typer.Option(help="NAME:TYPE[:MIN:MAX] a caller may set (int, float, bool, str).")
    ] = None,
    org: Org = "default",
) -> None:
    """Register an enqueue template."""
    from clearway.domain.gateway.params import parse_spec

    services, me = _context(org)
    record = _run(
        lambda: services.gateway.records.create_template(
            me, task, queue, [parse_spec(p) for p in param or []], as_task_owner=True
        )
    )
    typer.echo(f"Created template {record['name']} -> queue {record['queue_name']}")
    typer.echo(record["id"])


def _list(kind: str, org: str) -> None:
    services, me = _context(org)
    for record in services.gateway.records.list(me, _kind(kind)):
        if kind == "machine":
            typer.echo(f"{record['id']}\t{record['name']}\t{record['url']}\t{record['health']}")
        elif kind == "endpoint":
            typer.echo(f"{record['id']}\t{record['machine_name']}\t{record['endpoint']}")
        else:
            params = ",".join(p["name"] for p in record["params"])
            typer.echo(f"{record['id']}\t{record['name']}\t{record['queue_name']}\t{params}")


def _revoke(kind: str, record_id: str, org: str) -> None:
    services, me = _context(org)
    _run(lambda: services.gateway.records.revoke(me, _kind(kind), record_id))
    typer.echo(f"Revoked {kind} {record_id}")


@machines_app.command("list")
def machines_list(org: Org = "default") -> None:
    _list("machine", org)


@machines_app.command("revoke")
def machines_revoke(record_id: Annotated[str, typer.Argument(metavar="ID")], org: Org = "default") -> None:
    """Revoke a machine (and its endpoints): its id answers 404 from now on."""
    _revoke("machine", record_id, org)


@endpoints_app.command("list")
def endpoints_list(org: Org = "default") -> None:
    _list("endpoint", org)


@endpoints_app.command("revoke")
def endpoints_revoke(record_id: Annotated[str, typer.Argument(metavar="ID")], org: Org = "default") -> None:
    _revoke("endpoint", record_id, org)


@templates_app.command("list")
def templates_list(org: Org = "default") -> None:
    _list("template", org)


@templates_app.command("revoke")
def templates_revoke(record_id: Annotated[str, typer.Argument(metavar="ID")], org: Org = "default") -> None:
    _revoke("template", record_id, org)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option(help="The user the token acts as.")],
    expires: Annotated[float | None, typer.Option(help="Days until it expires (default: never).")] = None,
    rate: Annotated[
        int | None, typer.Option(help="Calls per minute (default CLEARWAY_GATEWAY_TOKEN_RATE_PER_MINUTE).")
    ] = None,
    daily_runs: Annotated[
        int | None, typer.Option(help="Runs per day (default CLEARWAY_GATEWAY_TOKEN_DAILY_RUNS).")
    ] = None,
) -> None:
    """Create a gateway token for a user: shown once, on the last line."""
    from clearway.cli import _services, _user
    from clearway.domain.accounts import operator

    services = _services()
    found = _user(services, user)
    me = operator(found["org_id"])
    record, token = _run(
        lambda: services.gateway.tokens.create(
            me, found["id"], expires_days=expires, rate_per_minute=rate, daily_runs=daily_runs
        )
    )
    until = f", expires {record['expires']}" if record["expires"] else ""
    typer.echo(
        f"Created gateway token {record['id']} for {user} ({record['rate_per_minute']}/min, "
        f"{record['daily_runs']} runs/day{until})"
    )
    typer.echo(token)


@tokens_app.command("list")
def tokens_list(org: Org = "default") -> None:
    services, me = _context(org)
    names = {u["id"]: u["name"] for u in services.accounts.users(me)}
    for record in services.gateway.tokens.list(me):
        state = f"revoked {record['revoked']}" if record["revoked"] else f"expires {record['expires'] or 'never'}"
        user = names.get(record["user_id"], record["user_id"])
        typer.echo(f"{record['id']}\t{user}\t{record['rate_per_minute']}/min\t{record['daily_runs']}/day\t{state}")


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id, or the token.")], org: Org = "default"
) -> None:
    services, me = _context(org)
    _run(lambda: services.gateway.tokens.revoke(me, token_id))
    typer.echo("Revoked the gateway token")
