"""Running the server in production: processes, logs, metrics, backups."""
