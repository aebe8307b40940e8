"""Every error Clearway raises, once: its HTTP status and its ClearML result code and subcode.

Handlers raise these; one exception handler per surface renders them (the ClearML envelope on the ClearML API,
a JSON problem body elsewhere). Codes follow the ClearML server's public error table; the HTTP status is
never above 500, because the clients retry forever on 5xx above 500 (see the wire contract, section 1.3).
"""

from __future__ import annotations

from typing import Any, ClassVar


class ClearwayError(Exception):
    status: ClassVar[int] = 400
    subcode: ClassVar[int] = 0
    default_message: ClassVar[str] = "Bad request"

    def __init__(self, message: str | None = None, **data: Any) -> None:
        self.message = message or self.default_message
        self.data = data
        super().__init__(self.message)


# 400: validation
class BadRequest(ClearwayError):
    default_message = "Invalid request"


class MalformedJSON(BadRequest):
    subcode = 1
    default_message = "Malformed request body: not valid JSON"


class ValidationFailed(BadRequest):
    subcode = 11
    default_message = "Validation error"


class InvalidTaskId(BadRequest):
    subcode = 101
    default_message = "Invalid task id"


class InvalidTaskStatus(BadRequest):
    subcode = 110
    default_message = "Invalid task status"


class TaskStatusChangeFailed(BadRequest):
    subcode = 121
    default_message = "Failed changing task status"


class TaskCannotBeDeleted(BadRequest):
    subcode = 123
    default_message = "Task cannot be deleted"


class InvalidModelId(BadRequest):
    subcode = 201
    default_message = "Invalid model id"


class ModelNotReady(BadRequest):
    subcode = 202
    default_message = "Model is not ready"


class ModelIsReady(BadRequest):
    subcode = 203
    default_message = "Model is published (ready): its weights cannot change"


class InvalidProjectId(BadRequest):
    subcode = 401
    default_message = "Invalid project id"


class ProjectExists(BadRequest):
    subcode = 403
    default_message = "Project with the same name already exists"


class ProjectNotEmpty(BadRequest):
    subcode = 404
    default_message = "Project has tasks or models; pass force to delete it"


class InvalidQueueId(BadRequest):
    subcode = 701
    default_message = "Invalid queue id"


class NoDefaultQueue(BadRequest):
    subcode = 707
    default_message = "No default queue"


class QueueExists(BadRequest):
    subcode = 708
    default_message = "Queue with the same name already exists"


class QueueNotEmpty(BadRequest):
    subcode = 702
    default_message = "Queue is not empty"


class TaskNotQueued(BadRequest):
    subcode = 703
    default_message = "Task is not in this queue"


class InvalidWorkerId(BadRequest):
    subcode = 1001
    default_message = "Invalid worker id"


class InvalidUserId(BadRequest):
    subcode = 1201
    default_message = "Invalid user id"


class BatchTooLarge(BadRequest):
    subcode = 1301
    default_message = "Batch too large"


class RequestTooLarge(ClearwayError):
    status = 413
    default_message = "Request body too large"


class UploadTooLarge(RequestTooLarge):
    default_message = "File too large"


class InvalidBlobPath(BadRequest):
    subcode = 1401
    default_message = "Invalid file path"


class RangeNotSatisfiable(ClearwayError):
    status = 416
    default_message = "Requested range not satisfiable"


# 401: authentication
class MissingCredentials(ClearwayError):
    status = 401
    subcode = 20
    default_message = "Missing credentials"


class MalformedCredentials(ClearwayError):
    status = 401
    subcode = 21
    default_message = "Malformed credentials"


class InvalidCredentials(ClearwayError):
    status = 401
    subcode = 22
    default_message = "Invalid credentials"


class InvalidToken(ClearwayError):
    status = 401
    subcode = 30
    default_message = "Invalid token"


class LoginThrottled(ClearwayError):
    """Too many failed logins for a key or from an address. A 401, never a 429: the clients retry 429 forever."""

    status = 401
    subcode = 22
    default_message = "Too many failed attempts; retry later"


# 403: authorization
class Forbidden(ClearwayError):
    status = 403
    subcode = 21
    default_message = "No write permission"


class AddressNotAllowed(ClearwayError):
    status = 403
    subcode = 40
    default_message = "Access from this address is not allowed"


# 404
class EndpointNotFound(ClearwayError):
    status = 404
    default_message = "Unable to find endpoint"


class NotFound(ClearwayError):
    status = 404
    default_message = "Not found"


class MethodNotAllowed(ClearwayError):
    status = 405
    default_message = "Method not allowed"


class Conflict(ClearwayError):
    status = 409
    default_message = "Conflict"


# The gateway's own routes (never the ClearML API, whose clients retry 429 and 5xx above 500 forever).
class TooManyRequests(ClearwayError):
    """Over a gateway token's rate limit or daily run quota; ``retry_after`` (seconds) goes in Retry-After."""

    status = 429
    default_message = "Too many requests"


class MachineUnavailable(ClearwayError):
    status = 503
    default_message = "The serving machine is unavailable"


class MachineTimeout(ClearwayError):
    status = 504
    default_message = "The serving machine did not answer in time"


class InsufficientStorage(ClearwayError):
    status = 500
    subcode = 507
    default_message = "Not enough space to store the file"


class InternalError(ClearwayError):
    status = 500
    default_message = "Internal server error"
