"""Quotas and fair share: what each owner may still start, and in which order owners are served.

Quotas are per user or per group: the most tasks running at once and the most GPUs held at once (a group's count
is its members' sum). A task counts from the moment an agent takes it until the scheduler sees it end.

Fair share orders a queue's owners by their recent usage (GPU-seconds, decayed with a half-life) divided by their
weight, then by the tasks they run now divided by their weight (so CPU-only tasks are shared too), then by who
waited first. A user's weight is their own quota row's, else the largest of their groups', else 1.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

USER = "user"
GROUP = "group"


@dataclass(frozen=True)
class Quota:
    subject_type: str
    subject_id: str
    max_running: int | None
    max_gpus: int | None
    weight: float = 1.0

    @property
    def key(self) -> tuple[str, str]:
        return (self.subject_type, self.subject_id)

    @property
    def limits(self) -> bool:
        return self.max_running is not None or self.max_gpus is not None


class Ledger:
    """Quotas, group memberships and what each owner holds now; counts can be moved as if tasks were taken."""

    def __init__(
        self, quotas: Iterable[dict[str, Any]], groups: dict[str, list[str]], held: dict[str, tuple[int, int]]
    ) -> None:
        self.quotas = {(q["subject_type"], q["subject_id"]): Quota(**q) for q in quotas}
        self.groups = groups
        self.held: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for owner, (running, gpus) in held.items():
            self.add(owner, running, gpus)

    def refreshed(self, groups: dict[str, list[str]], held: dict[str, tuple[int, int]]) -> Ledger:
        """The same quotas, with these memberships and holdings."""
        return Ledger([vars(q) for q in self.quotas.values()], groups, held)

    def add(self, owner: str, running: int, gpus: int) -> None:
        for key in [(USER, owner), *((GROUP, g) for g in self.groups.get(owner, []))]:
            self.held[key][0] += running
            self.held[key][1] += gpus

    def limiting(self, owner: str) -> list[Quota]:
        """The quotas that bind the owner: their own and their groups'."""
        keys = [(USER, owner), *((GROUP, g) for g in self.groups.get(owner, []))]
        return [self.quotas[k] for k in keys if k in self.quotas and self.quotas[k].limits]

    def gpus_left(self, owner: str) -> int | None:
        """The most GPUs one more task of the owner may hold; None when unlimited."""
        lefts = [q.max_gpus - self.held[q.key][1] for q in self.limiting(owner) if q.max_gpus is not None]
        return max(0, min(lefts)) if lefts else None

    def blocked(self, owner: str, gpus: int = 0) -> str | None:
        """Why the owner may not start a task needing ``gpus`` now; None when they may."""
        for quota in self.limiting(owner):
            running, held = self.held[quota.key]
            who = f"{quota.subject_type} quota" if quota.subject_type == USER else f"quota of group {quota.subject_id}"
            if quota.max_running is not None and running >= quota.max_running:
                return f"over quota: {who} allows at most {quota.max_running} running tasks; {running} are running"
            if quota.max_gpus is not None and held + gpus > quota.max_gpus:
                return f"over quota: {who} allows at most {quota.max_gpus} GPUs; {held} are held"
        return None

    def weight(self, owner: str) -> float:
        own = self.quotas.get((USER, owner))
        if own is not None:
            return own.weight
        weights = [self.quotas[(GROUP, g)].weight for g in self.groups.get(owner, []) if (GROUP, g) in self.quotas]
        return max(weights) if weights else 1.0

    def running(self, owner: str) -> int:
        return self.held[(USER, owner)][0]


def fair_key(ledger: Ledger, usage: dict[str, float], owner: str, first_position: int) -> tuple[float, float, int]:
    """Owners with the least weighted recent usage first, then the fewest weighted running tasks, then the oldest
    waiting entry."""
    weight = max(ledger.weight(owner), 1e-9)
    return (usage.get(owner, 0.0) / weight, ledger.running(owner) / weight, first_position)
