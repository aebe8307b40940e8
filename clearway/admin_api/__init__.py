"""The admin API: JSON over HTTP under ``/admin/api``, described by OpenAPI at ``/admin/api/openapi.json``.

Admins manage their organisation here: users, roles, passwords, keys, groups, project shares, address allowlists,
and read the audit log. Bearer tokens are the same as the ClearML API's; errors are problem documents.
"""
