"""One module per ClearML service; each declares its endpoints on a :class:`Service`."""

from clearway.clearml_api.services import auth, events, models, projects, tasks

ALL = [auth.service, projects.service, tasks.service, events.service, models.service]
