"""The command line for scheduling: queue policies and defaults, why tasks wait, quotas and weights."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from clearway.cli_admin import Org, _context, _group_id, _run, _user_id

queues_app = typer.Typer(help="Queue scheduling: policies, defaults, and why tasks wait.", no_args_is_help=True)
quotas_app = typer.Typer(help="Quotas and fair-share weights of users and groups.", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _queue_id(services: Any, me: Any, name: str) -> str:
    return str(_run(lambda: services.queues.find_by_name(me, name))["id"])


def _subject(services: Any, me: Any, user: str | None, group: str | None) -> tuple[str, str, str]:
    if (user is None) == (group is None):
        typer.echo("Name exactly one of --user or --group", err=True)
        raise typer.Exit(2)
    if user is not None:
        return "user", _user_id(services, user), user
    assert group is not None
    return "group", _group_id(services, me, group), group


@queues_app.command("explain")
def queues_explain(
    queue: str,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="List at most this many waiting tasks.")] = 100,
    as_json: Json = False,
    org: Org = "default",
) -> None:
    """The queue's waiting tasks in dispatch order: position, owner, needs, why each waits, estimated start."""
    services, me = _context(org)
    out = _run(lambda: services.scheduling.explain(me, _queue_id(services, me, queue), limit))
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"{queue}: {out['policy']}, {out['live_workers']} live workers, {len(out['tasks'])} waiting")
    names: dict[str, str] = {}
    for row in out["tasks"]:
        owner = row["owner"] or ""
        if owner not in names:
            names[owner] = (services.stores.identity.get_user(owner) or {}).get("name", owner)
        needs = f"{row['gpus']} GPU" + (f" {row['memory_gb']:g} GB" if row["memory_gb"] else "")
        start = row["estimated_start"] or "-"
        typer.echo(f"{row['position']}\t{row['task']}\t{names[owner]}\t{needs}\t{start}\t{row['reason']}")


@queues_app.command("policy")
def queues_policy(
    queue: str,
    policy: Annotated[str | None, typer.Option(help="fifo or fair")] = None,
    allow_priority: Annotated[
        bool | None, typer.Option("--allow-priority/--no-priority", help="Whether clearway.priority counts.")
    ] = None,
    gpus: Annotated[int | None, typer.Option(min=0, help="Default GPUs of tasks that declare none.")] = None,
    gpu_memory_gb: Annotated[float | None, typer.Option(min=0, help="Default GPU memory per GPU (GB).")] = None,
    memory_gb: Annotated[float | None, typer.Option(min=0, help="Default machine memory (GB).")] = None,
    org: Org = "default",
) -> None:
    """Show the queue's policy and defaults; change those given."""
    services, me = _context(org)
    queue_id = _queue_id(services, me, queue)
    changes = dict(
        policy=policy, allow_priority=allow_priority, gpus=gpus, gpu_memory_gb=gpu_memory_gb, memory_gb=memory_gb
    )
    if any(v is not None for v in changes.values()):
        doc = _run(lambda: services.scheduling.set_policy(me, queue_id, changes))
    else:
        doc = _run(lambda: services.scheduling.policy(me, queue_id))
    typer.echo(json.dumps(doc, indent=2))


@quotas_app.command("set")
def quotas_set(
    user: Annotated[str | None, typer.Option(help="The user's quota.")] = None,
    group: Annotated[str | None, typer.Option(help="The group's quota (its members' sum).")] = None,
    max_running: Annotated[int | None, typer.Option(min=0, help="Most tasks running at once.")] = None,
    max_gpus: Annotated[int | None, typer.Option(min=0, help="Most GPUs held at once.")] = None,
    weight: Annotated[float, typer.Option(min=0.000001, help="Fair-share weight.")] = 1.0,
    org: Org = "default",
) -> None:
    """Set a user's or group's quota and weight (limits not given are lifted)."""
    services, me = _context(org)
    kind, subject_id, name = _subject(services, me, user, group)
    doc = _run(
        lambda: services.scheduling.set_quota(
            me, kind, subject_id, max_running=max_running, max_gpus=max_gpus, weight=weight
        )
    )
    typer.echo(f"{kind} {name}: {_limits(doc)}")


@quotas_app.command("remove")
def quotas_remove(
    user: Annotated[str | None, typer.Option(help="The user's quota.")] = None,
    group: Annotated[str | None, typer.Option(help="The group's quota.")] = None,
    org: Org = "default",
) -> None:
    services, me = _context(org)
    kind, subject_id, name = _subject(services, me, user, group)
    _run(lambda: services.scheduling.remove_quota(me, kind, subject_id))
    typer.echo(f"{kind} {name}: no quota")


@quotas_app.command("show")
def quotas_show(as_json: Json = False, org: Org = "default") -> None:
    services, me = _context(org)
    quotas = _run(lambda: services.scheduling.quotas(me))
    if as_json:
        typer.echo(json.dumps(quotas, indent=2))
        return
    for doc in quotas:
        typer.echo(f"{doc['subject_type']}\t{doc['subject_name']}\t{_limits(doc)}")


def _limits(doc: dict[str, Any]) -> str:
    running = "unlimited" if doc["max_running"] is None else doc["max_running"]
    gpus = "unlimited" if doc["max_gpus"] is None else doc["max_gpus"]
    return f"max running {running}, max GPUs {gpus}, weight {doc['weight']:g}"
