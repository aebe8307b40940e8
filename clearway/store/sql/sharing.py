"""Groups, their members and project shares in SQL."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from clearway.errors import Conflict
from clearway.store.base import Doc, Grants, SharingStore
from clearway.store.sql.database import Database
from clearway.store.sql.documents import covers
from clearway.store.sql.schema import group_members, groups, project_shares, projects, users
from clearway.timeutil import iso, utcnow


class SqlSharingStore(SharingStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_group(self, org_id: str, name: str) -> Doc:
        values = {"id": uuid.uuid4().hex, "org_id": org_id, "name": name, "created": utcnow()}
        try:
            with self.db.transaction() as conn:
                conn.execute(insert(groups).values(**values))
        except IntegrityError as exc:
            raise Conflict(f"A group named {name!r} already exists") from exc
        return {"id": values["id"], "name": name, "created": iso(values["created"]), "members": []}

    def get_group(self, org_id: str, group_id: str) -> Doc | None:
        with self.db.read() as conn:
            row = conn.execute(select(groups).where(groups.c.id == group_id, groups.c.org_id == org_id)).first()
            if row is None:
                return None
            members = conn.execute(
                select(group_members.c.user_id).where(group_members.c.group_id == group_id).order_by("user_id")
            ).scalars()
            return {"id": row.id, "name": row.name, "created": iso(row.created), "members": list(members)}

    def list_groups(self, org_id: str) -> list[Doc]:
        stmt = (
            select(groups, group_members.c.user_id)
            .outerjoin(group_members, group_members.c.group_id == groups.c.id)
            .where(groups.c.org_id == org_id)
            .order_by(groups.c.name, group_members.c.user_id)
        )
        out: dict[str, Doc] = {}
        with self.db.read() as conn:
            for row in conn.execute(stmt):
                group = out.setdefault(
                    row.id, {"id": row.id, "name": row.name, "created": iso(row.created), "members": []}
                )
                if row.user_id is not None:
                    group["members"].append(row.user_id)
        return list(out.values())

    def delete_group(self, org_id: str, group_id: str) -> bool:
        with self.db.transaction() as conn:
            found = conn.execute(delete(groups).where(groups.c.id == group_id, groups.c.org_id == org_id)).rowcount
            if found:
                conn.execute(delete(group_members).where(group_members.c.group_id == group_id))
                conn.execute(
                    delete(project_shares).where(
                        project_shares.c.grantee_type == "group", project_shares.c.grantee_id == group_id
                    )
                )
            return found > 0

    def set_member(self, org_id: str, group_id: str, user_id: str, member: bool) -> bool:
        where = and_(group_members.c.group_id == group_id, group_members.c.user_id == user_id)
        with self.db.transaction() as conn:
            present = conn.execute(select(literal(1)).where(where)).first() is not None
            if present == member:
                return False
            if member:
                conn.execute(insert(group_members).values(group_id=group_id, user_id=user_id))
            else:
                conn.execute(delete(group_members).where(where))
            return True

    def share(self, org_id: str, project_id: str, grantee_type: str, grantee_id: str, mode: str, by: str) -> None:
        key = _share_key(org_id, project_id, grantee_type, grantee_id)
        with self.db.transaction() as conn:
            if conn.execute(update(project_shares).where(key).values(mode=mode)).rowcount == 0:
                conn.execute(
                    insert(project_shares).values(
                        project_id=project_id,
                        grantee_type=grantee_type,
                        grantee_id=grantee_id,
                        mode=mode,
                        created=utcnow(),
                        created_by=by,
                    )
                )

    def unshare(self, org_id: str, project_id: str, grantee_type: str, grantee_id: str) -> bool:
        with self.db.transaction() as conn:
            stmt = delete(project_shares).where(_share_key(org_id, project_id, grantee_type, grantee_id))
            return conn.execute(stmt).rowcount > 0

    def shares_of(self, org_id: str, project_id: str) -> list[Doc]:
        s = project_shares.c
        name = func.coalesce(users.c.name, groups.c.name)
        stmt = (
            select(s.project_id, s.grantee_type, s.grantee_id, s.mode, s.created, s.created_by, name.label("name"))
            .join(projects, projects.c.id == s.project_id)
            .outerjoin(users, and_(s.grantee_type == "user", users.c.id == s.grantee_id))
            .outerjoin(groups, and_(s.grantee_type == "group", groups.c.id == s.grantee_id))
            .where(s.project_id == project_id, projects.c.org_id == org_id)
            .order_by(s.grantee_type, name)
        )
        with self.db.read() as conn:
            return [
                {
                    "project_id": row.project_id,
                    "grantee_type": row.grantee_type,
                    "grantee_id": row.grantee_id,
                    "grantee_name": row.name,
                    "mode": row.mode,
                    "created": iso(row.created),
                    "created_by": row.created_by,
                }
                for row in conn.execute(stmt)
            ]

    def grants(self, org_id: str, user_id: str) -> Grants:
        with self.db.read() as conn:
            group_ids = frozenset(
                conn.execute(
                    select(group_members.c.group_id)
                    .join(groups, groups.c.id == group_members.c.group_id)
                    .where(group_members.c.user_id == user_id, groups.c.org_id == org_id)
                ).scalars()
            )
            s = project_shares.c
            root = projects.alias("root")
            covered = projects.alias("covered")
            # A share covers the project and every project below it of the same owner ("P" covers "P/.datasets/D").
            stmt = (
                select(covered.c.id, s.mode)
                .select_from(project_shares)
                .join(root, root.c.id == s.project_id)
                .join(covered, covers(root, covered))
                .where(
                    root.c.org_id == org_id,
                    or_(
                        and_(s.grantee_type == "user", s.grantee_id == user_id),
                        and_(s.grantee_type == "group", s.grantee_id.in_(sorted(group_ids) or [""])),
                    ),
                )
            )
            read: set[str] = set()
            write: set[str] = set()
            for project_id, mode in conn.execute(stmt):
                (write if mode == "write" else read).add(project_id)
        return Grants(group_ids=group_ids, read=frozenset(read - write), write=frozenset(write))


def _share_key(org_id: str, project_id: str, grantee_type: str, grantee_id: str) -> ColumnElement[bool]:
    s = project_shares.c
    in_org = select(projects.c.id).where(projects.c.id == project_id, projects.c.org_id == org_id)
    return and_(s.project_id.in_(in_org), s.grantee_type == grantee_type, s.grantee_id == grantee_id)
