"""The ClearML-compatible API: ``/[vX.Y/]service.action`` with the meta/data envelope."""
