"""The admin API: JSON over HTTP under ``/admin/api``, described by OpenAPI at ``/admin/api/openapi.json``.

Admins manage their organisation here: users, roles, passwords, keys, groups, project shares, address allowlists,
and read the audit log. Bearer tokens are the same as the ClearML API's; errors are problem documents.
"""

# Here, not in app.py, so that clearway.app can route to the admin API without importing FastAPI at start.
PREFIX = "/admin/api"
OPENAPI_PATH = "/openapi.json"
