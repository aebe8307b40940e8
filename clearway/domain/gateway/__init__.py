"""The gateway's business rules ("ClearML Utils"): serving machines, endpoints and enqueue templates behind random
revocable ids, gateway tokens with rate limits and quotas, template runs, machine health and the request log.
The HTTP surface is :mod:`clearway.gateway`; the admin API and the command line manage the records here too."""

from __future__ import annotations

from dataclasses import dataclass

from clearway.domain.gateway.health import MachineHealth
from clearway.domain.gateway.records import GatewayRecords
from clearway.domain.gateway.request_log import RequestLog
from clearway.domain.gateway.runs import GatewayRuns
from clearway.domain.gateway.tokens import GatewayTokens


@dataclass
class Gateway:
    records: GatewayRecords
    tokens: GatewayTokens
    runs: GatewayRuns
    health: MachineHealth
    log: RequestLog
