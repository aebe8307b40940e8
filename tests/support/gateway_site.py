"""The gateway end to end, set up once for a module: a model trained and published with the SDK, served by the
official clearml-serving app and registered as a machine and an endpoint; a template (``factor:int:1:100``,
``label:str:1:20``) on a queue of its own; a real clearml-agent serving that queue. All in one organisation, owned
by one user; built with the ``clearway gateway`` command line, as an administrator would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.api import call, data
from tests.support.agent import AgentProcess
from tests.support.clients import client_for
from tests.support.server import ServerProcess
from tests.support.serving import ServedModel, create_template, served_model

TEMPLATE_PARAMS = ("factor:int:1:100", "label:str:1:20")


@dataclass
class GatewaySite:
    org: str
    owner: dict[str, str]  # the CLEARML_* credentials of the records' owner
    served: ServedModel
    machine: str
    template: str
    template_task: str
    queue: str  # the queue's id
    queue_name: str
    agent: AgentProcess


def gateway(server: ServerProcess, *args: str) -> str:
    """``clearway gateway ARGS``; the new id it prints on its last line."""
    return server.cli("gateway", *args).stdout.strip().splitlines()[-1]


@contextmanager
def gateway_site(server: ServerProcess, root: Path, org: str, tag: str) -> Iterator[GatewaySite]:
    """The records and processes above in organisation ``org``; ``tag`` makes names unique on a shared server."""
    owner = server.user(f"gw-owner-{tag}", "user", org)
    with served_model(owner, root / "serving") as served:
        machine = gateway(server, "machines", "add", "--serving-task", served.service_id, "--url", served.app.url,
                          "--name", f"box-{tag}", "--org", org)  # fmt: skip
        gateway(server, "endpoints", "add", "--machine", machine, "--endpoint", served.endpoint, "--org", org)
        template_task = create_template(owner, root / "template")
        queue_name = f"gateway-runs-{tag}"
        with client_for(server, server.user(f"gw-queues-{tag}", "admin", org)) as admin:
            queue = data(call(admin, "queues.create", {"name": queue_name}))["id"]
        params = [arg for param in TEMPLATE_PARAMS for arg in ("--param", param)]
        template = gateway(server, "templates", "add", "--task", template_task, "--queue", queue_name, *params,
                           "--org", org)  # fmt: skip
        agent = AgentProcess(root / "agent", server.user(f"gw-agent-{tag}", "agent", org), queue_name, f"gw-{tag}:0")
        agent.start()
        try:
            yield GatewaySite(org, owner, served, machine, template, template_task, queue, queue_name, agent)
        finally:
            agent.stop()
