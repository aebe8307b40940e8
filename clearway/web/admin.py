"""Administration (admins only; the domain refuses anyone else): users and roles, groups, project shares, IP
allowlists and the audit log."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clearway.auth.middleware import request_identity
from clearway.domain.allowlists import Level
from clearway.domain.identity import Role
from clearway.domain.query import ListQuery
from clearway.domain.sharing import GranteeType, ShareMode
from clearway.errors import ValidationFailed
from clearway.services import Services
from clearway.web import PREFIX
from clearway.web.projects import page_number
from clearway.web.rendering import checked_form, page, redirect, text

AUDIT_PAGE = 100
MAX_SHARED_PROJECTS = 200


def _choice(enum: type, value: str) -> object:
    try:
        return enum(value)
    except ValueError as exc:
        raise ValidationFailed(f"{value!r} is not one of {[e.value for e in enum]}") from exc


def routes(services: Services) -> list[Route]:
    def overview(request: Request) -> Response:
        me = request_identity(request)
        users = services.accounts.users(me)
        return page(
            request,
            "admin.html",
            users=users,
            roles=[r.value for r in Role],
            groups=services.sharing.list_groups(me),
            allowlists=services.allowlists.show(me),
            names={u["id"]: u["name"] for u in users},
        )

    def shares(request: Request) -> Response:
        me = request_identity(request)
        services.accounts.users(me)  # admins only, before anything is read
        projects = services.projects.list(me, ListQuery(order_by=["name"], page_size=MAX_SHARED_PROJECTS), None)
        rows = [{"project": p, "shares": services.sharing.shares(me, p["id"])} for p in projects]
        return page(
            request,
            "admin_shares.html",
            rows=rows,
            users=services.accounts.users(me),
            groups=services.sharing.list_groups(me),
        )

    def audit(request: Request) -> Response:
        me = request_identity(request)
        params = request.query_params
        entries = services.audit.entries(
            me,
            action=params.get("action") or None,
            user_id=params.get("user") or None,
            page=page_number(request),
            page_size=AUDIT_PAGE,
        )
        return page(
            request,
            "admin_audit.html",
            entries=entries,
            page_number=page_number(request),
            has_next=len(entries) == AUDIT_PAGE,
        )

    async def change(request: Request) -> Response:
        form = await checked_form(request)
        me = request_identity(request)
        what = request.path_params["what"]
        back = f"{PREFIX}/admin"
        if what == "user":
            role = _choice(Role, text(form, "role", "user"))
            await run_in_threadpool(
                services.accounts.create_user, me, text(form, "name"), role, text(form, "password") or None
            )
        elif what == "role":
            role = _choice(Role, text(form, "role"))
            await run_in_threadpool(services.accounts.set_role, me, text(form, "user"), role)
        elif what == "group":
            await run_in_threadpool(services.sharing.create_group, me, text(form, "name"))
        elif what == "member":
            await run_in_threadpool(services.sharing.set_member, me, text(form, "group"), text(form, "user"), True)
        elif what == "share":
            grantee = text(form, "grantee")  # "user:<id>" or "group:<id>"
            kind, _, grantee_id = grantee.partition(":")
            await run_in_threadpool(
                services.sharing.share,
                me,
                text(form, "project"),
                _choice(GranteeType, kind),
                grantee_id,
                _choice(ShareMode, text(form, "mode", "read")),
            )
            back = f"{PREFIX}/admin/shares"
        elif what == "allowlist":
            level = _choice(Level, text(form, "level", "org"))
            cidrs = text(form, "cidrs").split()
            await run_in_threadpool(services.allowlists.replace, me, level, text(form, "subject") or None, cidrs)
        else:
            raise ValidationFailed(f"nothing to change called {what!r}")
        return redirect(back)

    return [
        Route("/admin", overview, methods=["GET"]),
        Route("/admin/shares", shares, methods=["GET"]),
        Route("/admin/audit", audit, methods=["GET"]),
        Route("/admin/{what}", change, methods=["POST"]),
    ]
