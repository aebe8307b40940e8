"""``clearway backup DEST`` and ``clearway restore SRC``: a consistent snapshot of the database, plus the local
files and the token signing secret, in one directory.

The database is copied first, as one snapshot taken while the server runs: SQLite's online backup API, or
``pg_dump`` (one transaction). The files are copied after it, so every file the snapshot refers to is there (a file
deleted in between may be missing). Files in S3 are not copied: back the bucket up with the store's own tools.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from clearway.settings import Settings
from clearway.store import migrations
from clearway.timeutil import now_iso

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
FILES = "files"
SECRET = "token-secret"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; its message says why."""


@dataclass
class Backup:
    settings: Settings

    @property
    def url(self) -> str:
        return self.settings.resolved_database_url

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def files_dir(self) -> Path | None:
        """The local blob directory, or None when files live in S3."""
        blob_url = self.settings.blob_url
        if blob_url is None:
            return self.settings.files_dir
        return None if blob_url.startswith("s3://") else Path(blob_url)

    def create(self, dest: Path) -> dict[str, Any]:
        if dest.exists() and any(dest.iterdir()):
            raise BackupError(f"{dest} is not empty")
        revision = migrations.current_revision(self.url)
        if revision is None:
            raise BackupError("The database has no Clearway schema: nothing to back up")
        dest.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            _sqlite_snapshot(_sqlite_path(self.url), dest / SQLITE_FILE)
        else:
            _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dest / PG_FILE}", _libpq(self.url)])
        files = self.files_dir()
        if files is not None and files.exists():
            shutil.copytree(files, dest / FILES, symlinks=False)
        secret = self.settings.data_dir / SECRET
        if secret.exists():
            shutil.copy2(secret, dest / SECRET)
        manifest = {
            "format": FORMAT,
            "created": now_iso(),
            "database": "sqlite" if self.is_sqlite else "postgresql",
            "schema": revision,
            "files": "local" if files is not None else "s3 (not copied)",
        }
        (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        return manifest

    def restore(self, src: Path) -> dict[str, Any]:
        manifest = _manifest(src)
        kind = "sqlite" if self.is_sqlite else "postgresql"
        if manifest["database"] != kind:
            raise BackupError(f"This backup holds a {manifest['database']} database; the server is set up for {kind}")
        if migrations.current_revision(self.url) is not None:
            raise BackupError("The database is not empty: restore into a new, empty database")
        files = self.files_dir()
        if files is not None and files.exists() and any(files.iterdir()):
            raise BackupError(f"{files} is not empty: restore into a new data directory")
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            _sqlite_snapshot(src / SQLITE_FILE, _sqlite_path(self.url))
        else:
            _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(self.url)}", str(src / PG_FILE)])
        if files is not None and (src / FILES).exists():
            shutil.copytree(src / FILES, files, dirs_exist_ok=True)
        if (src / SECRET).exists() and not self.settings.token_secret:
            shutil.copy2(src / SECRET, self.settings.data_dir / SECRET)
        return manifest


def _manifest(src: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a Clearway backup ({MANIFEST}: {exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r}")
    return manifest


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("Only a SQLite database in a file can be backed up or restored")
    return Path(database)


def _sqlite_snapshot(source: Path, target: Path) -> None:
    """Copy a SQLite database page by page with its online backup API: a consistent copy even while it is written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    with sqlite3.connect(target) as dst:
        dst.execute("PRAGMA journal_mode=WAL")


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(f"{command[0]} is not installed (it comes with the PostgreSQL client tools)") from exc
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")
