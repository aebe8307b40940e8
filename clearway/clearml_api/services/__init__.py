"""One module per ClearML service; each declares its endpoints on a :class:`Service`."""

from clearway.clearml_api.services import (
    auth,
    events,
    models,
    projects,
    queues,
    task_queueing,  # noqa: F401 - adds tasks.enqueue/dequeue/stop
    tasks,
    workers,
)

ALL = [auth.service, projects.service, tasks.service, events.service, models.service, queues.service, workers.service]
