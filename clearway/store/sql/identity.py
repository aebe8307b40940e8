"""Organisations, users and API keys in SQL."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from clearway.domain.identity import Identity, Role
from clearway.errors import Conflict
from clearway.store.base import Doc, IdentityStore, KeyRecord
from clearway.store.sql.database import Database
from clearway.store.sql.schema import api_keys, organizations, users
from clearway.timeutil import iso, utcnow


class SqlIdentityStore(IdentityStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure_org(self, name: str) -> Doc:
        with self.db.transaction() as conn:
            row = conn.execute(select(organizations).where(organizations.c.name == name)).mappings().first()
            if row is None:
                values = {"id": uuid.uuid4().hex, "name": name, "created": utcnow()}
                conn.execute(insert(organizations).values(**values))
                row = values
            return {"id": row["id"], "name": row["name"]}

    def create_user(self, org_id: str, name: str, role: str, password_hash: str | None = None) -> Doc:
        values = {
            "id": uuid.uuid4().hex,
            "org_id": org_id,
            "name": name,
            "role": role,
            "password_hash": password_hash,
            "created": utcnow(),
        }
        try:
            with self.db.transaction() as conn:
                conn.execute(insert(users).values(**values))
        except IntegrityError as exc:
            raise Conflict(f"A user named {name!r} already exists") from exc
        return _user_doc(values)

    def find_user(self, name: str) -> Doc | None:
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        return _user_doc(row) if row else None

    def get_user(self, user_id: str) -> Doc | None:
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
        return _user_doc(row) if row else None

    def list_users(self, org_id: str | None = None) -> list[Doc]:
        stmt = select(users).order_by(users.c.created)
        if org_id is not None:
            stmt = stmt.where(users.c.org_id == org_id)
        with self.db.read() as conn:
            return [_user_doc(row) for row in conn.execute(stmt).mappings()]

    def add_key(self, user_id: str, access_key: str, secret_hash: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                insert(api_keys).values(
                    access_key=access_key, user_id=user_id, secret_hash=secret_hash, created=utcnow()
                )
            )

    def list_keys(self, user_id: str) -> list[Doc]:
        stmt = select(api_keys).where(api_keys.c.user_id == user_id).order_by(api_keys.c.created)
        with self.db.read() as conn:
            return [
                {
                    "access_key": row["access_key"],
                    "created": iso(row["created"]),
                    "revoked": iso(row["revoked"]) if row["revoked"] else None,
                }
                for row in conn.execute(stmt).mappings()
            ]

    def revoke_key(self, access_key: str) -> bool:
        with self.db.transaction() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.access_key == access_key, api_keys.c.revoked.is_(None))
                .values(revoked=utcnow())
            )
            return result.rowcount > 0

    def get_key(self, access_key: str) -> KeyRecord | None:
        stmt = select(api_keys.c.access_key, api_keys.c.secret_hash, api_keys.c.revoked, api_keys.c.user_id).where(
            api_keys.c.access_key == access_key
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        identity = self.identity_of(row["user_id"])
        if identity is None:
            return None
        return KeyRecord(
            access_key=row["access_key"],
            secret_hash=row["secret_hash"],
            revoked=row["revoked"] is not None,
            identity=Identity(**{**identity.__dict__, "access_key": row["access_key"]}),
        )

    def identity_of(self, user_id: str) -> Identity | None:
        stmt = (
            select(
                users.c.id,
                users.c.name,
                users.c.role,
                organizations.c.id.label("org_id"),
                organizations.c.name.label("org_name"),
            )
            .join(organizations, organizations.c.id == users.c.org_id)
            .where(users.c.id == user_id)
        )
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return Identity(
            user_id=row["id"],
            user_name=row["name"],
            org_id=row["org_id"],
            org_name=row["org_name"],
            role=Role(row["role"]),
        )

    def set_role(self, user_id: str, role: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(update(users).where(users.c.id == user_id).values(role=role)).rowcount > 0

    def set_password(self, user_id: str, password_hash: str | None) -> bool:
        with self.db.transaction() as conn:
            stmt = update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            return conn.execute(stmt).rowcount > 0

    def password_hash(self, user_id: str) -> str | None:
        with self.db.read() as conn:
            return conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar_one_or_none()


def _user_doc(row: object) -> Doc:
    r = dict(row)  # type: ignore[call-overload]
    return {
        "id": r["id"],
        "name": r["name"],
        "org_id": r["org_id"],
        "role": r["role"],
        "created": iso(r["created"]) if not isinstance(r["created"], str) else r["created"],
    }
