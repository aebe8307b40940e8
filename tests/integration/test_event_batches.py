"""events.add_batch looks up the tasks of a batch at once: 20,000 unknown task ids cost a few statements, not
20,000 (each path: the fast one for scalars and console lines, the general one for any event)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

from clearway.domain.events import decode_lines
from clearway.domain.identity import Identity
from clearway.services import Services

UNKNOWN = 20_000


@contextmanager
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = services.stores.db.engine  # type: ignore[attr-defined]

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _scalar(task: str, n: int) -> dict:
    return {"type": "training_stats_scalar", "task": task, "metric": "m", "variant": "v", "iter": n, "value": 1.0}


def test_unknown_task_ids_are_looked_up_in_a_few_statements(
    services: Services, make_user: Callable[..., Identity]
) -> None:
    me = make_user(f"batch-{uuid.uuid4().hex[:6]}")
    mine = services.tasks.create(me, {"name": "mine", "type": "training"})["id"]
    events = [_scalar(uuid.uuid4().hex, n) for n in range(UNKNOWN)] + [_scalar(mine, 1)]
    body = "\n".join(json.dumps(e) for e in events).encode()

    lines = decode_lines(body)
    assert lines is not None  # the fast path
    with statements(services) as fast:
        result = services.events.add_lines(me, lines)
    assert (result["added"], result["errors"]) == (1, UNKNOWN)

    with statements(services) as general:  # a plot sends the batch down the general path
        result = services.events.add_batch(me, [*events, {"type": "plot", "task": mine, "plot_str": "{}"}])
    assert (result["added"], result["errors"]) == (2, UNKNOWN)

    assert len(fast) <= 20 and len(general) <= 20, (len(fast), len(general))  # was one per id
    assert services.tasks.get(me, mine)["last_iteration"] == 1
