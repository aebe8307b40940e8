"""Every ClearML endpoint the pinned clients' code can call is served, or is listed below with the reason it is not.

The endpoints are read from the sources of the installed ``clearml`` and ``clearml-agent``: their typed requests
(``tasks.GetAllRequest(...)``) and their raw calls (``send_request(service=..., action=...)``). None of them is a
``*_ex`` variant (``get_all_ex``, ``get_by_id_ex``: the web UI's), so Clearway serves none.
"""

import importlib
import re
from pathlib import Path

from clearway.clearml_api.registry import collect
from clearway.clearml_api.services import ALL

_TYPED = re.compile(r"\b(auth|events|models|projects|queues|tasks|workers|users|datasets|frames)\.([A-Z]\w*)Request\(")
_RAW = re.compile(r"""send_request\(\s*(?:service=)?["'](\w+)["'],\s*(?:action=)?["'](\w+)["']""")
_RAW_KEYWORDS = re.compile(r"""service=["'](\w+)["'],\s*action=["'](\w+)["']""")
NOT_SERVED = {
    "async.result": "only follows a 202 answer, which Clearway never gives",
    "routers.get_routes": "the enterprise HTTP router",
    "serving.register_container": "the enterprise router's telemetry",
    "serving.container_status_report": "the enterprise router's telemetry",
    "tasks.update": "clearml-agent's Kubernetes glue (pending pods), on API versions before 2.9",
    "users.get_current_user": "clearml-agent's Kubernetes pod templates",
    "users.get_vaults": "asked for with a non-basic feature set only; a 404 is taken as no vaults",
    "workers.cluster_report": "clearml-agent's cluster reporting; a 404 is tolerated",
    "workers.cluster_unregister": "clearml-agent's cluster reporting; a 404 is tolerated",
}
ENTERPRISE_SERVICES = ("datasets.", "frames.")  # HyperDatasets: ClearML Enterprise only


def called_endpoints() -> set[str]:
    found = set()
    for package in ("clearml", "clearml_agent"):
        root = Path(importlib.import_module(package).__file__).parent
        for source in root.rglob("*.py"):
            if "backend_api/services" in source.as_posix() or "_vendor" in source.parts:
                continue
            text = source.read_text(errors="ignore")
            found |= {f"{s}.{re.sub(r'(?<!^)(?=[A-Z])', '_', c).lower()}" for s, c in _TYPED.findall(text)}
            if "service=" in text or "send_request(" in text:
                text = re.sub(r"\s+", " ", text)
                found |= {f"{s}.{a}" for s, a in _RAW.findall(text) + _RAW_KEYWORDS.findall(text)}
    return found


def test_every_endpoint_the_clients_call_is_served():
    called = called_endpoints()
    assert {"tasks.get_hyper_params", "tasks.get_all", "queues.get_next_task"} <= called  # the scan finds calls
    assert not [name for name in called if name.endswith("_ex")]
    missing = called - set(collect(ALL)) - set(NOT_SERVED)
    assert sorted(n for n in missing if not n.startswith(ENTERPRISE_SERVICES)) == []
