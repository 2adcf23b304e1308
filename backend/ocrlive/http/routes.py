"""The URL table of the HTTP API and the page shell: every route with who may call it
and what it audits (app.py adds GET /api/ws beside them, public: it authenticates itself)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ocrlive.audit.actions import Action as A
from ocrlive.http import admin, oidc, pages, records, session, tasks
from ocrlive.http.access import PUBLIC, SIGNED_IN, Access, add
from ocrlive.http.openapi import openapi_json
from ocrlive.identity.permissions import Permission as P

STATIC = Path(__file__).resolve().parent.parent / "static"
TASK = "/api/tasks/{task_id}"


def _records_routes(app: web.Application) -> None:
    line = TASK + r"/pages/{page:\d{1,4}}/lines/{line:\d{1,5}}"
    revision = TASK + r"/revisions/{revision:\d{1,6}}"
    read = Access(P.TASK_READ, audit=A.REVISION_READ)
    export = Access(P.TASK_EXPORT, audit=A.EXPORT)
    add(app, "GET", "/api/search", records.search, Access(P.TASK_SEARCH, audit=A.SEARCH))
    add(app, "GET", "/api/review", records.review_queue,
        Access(P.RESULT_CORRECT, audit=A.REVIEW_LIST))  # fmt: skip
    add(app, "GET", "/api/patients/{patient_id}/documents", records.patient_documents,
        Access(P.TASK_READ, audit=A.PATIENT_READ))  # fmt: skip
    add(app, "POST", line, records.edit_line, Access(P.RESULT_CORRECT, audit=A.RESULT_CORRECT))
    add(app, "GET", f"{TASK}/revisions", records.revisions, read)
    add(app, "GET", revision, records.archived_revision, read)
    add(app, "POST", f"{TASK}/rerun", records.rerun, Access(P.TASK_RETRY, audit=A.TASK_RERUN))
    add(app, "GET", TASK + "/export.{format:pdf|txt|json}", records.export_one, export)
    add(app, "POST", "/api/exports", records.export_many, export)


def setup_routes(app: web.Application) -> None:
    add(app, "GET", "/", pages.index, PUBLIC)
    add(app, "GET", "/login", session.login_link, PUBLIC)
    add(app, "GET", "/login/oidc", oidc.start, PUBLIC)
    add(app, "GET", oidc.CALLBACK, oidc.callback, PUBLIC)
    add(app, "GET", "/api/health", tasks.health, PUBLIC)
    add(app, "GET", "/api/auth", session.auth_config, PUBLIC)
    add(app, "GET", "/api/openapi.json", openapi_json, PUBLIC)
    add(app, "POST", "/api/login", session.login, PUBLIC)
    add(app, "POST", "/api/logout", session.logout, SIGNED_IN)
    add(app, "GET", "/api/session", session.current, Access(touch=False))
    add(app, "POST", "/api/session/refresh", session.current, SIGNED_IN)
    add(app, "PUT", "/api/me/password", session.change_password, SIGNED_IN)
    add(app, "GET", "/api/status", tasks.status, Access(P.STATUS_READ))
    add(app, "POST", "/api/tasks", tasks.create_task, Access(P.TASK_UPLOAD, audit=A.TASK_UPLOAD))
    add(app, "GET", "/api/tasks", tasks.list_tasks, Access(P.TASK_READ, audit=A.TASK_LIST))
    add(app, "GET", TASK, tasks.get_task, Access(P.TASK_READ, audit=A.TASK_READ))
    add(app, "GET", f"{TASK}/result", records.get_result, Access(P.TASK_READ, audit=A.RESULT_READ))
    add(app, "GET", TASK + r"/pages/{number:\d{1,4}}.png", tasks.get_page,
        Access(P.TASK_READ, audit=A.PAGE_READ))  # fmt: skip
    add(
        app, "POST", f"{TASK}/cancel", tasks.cancel_task, Access(P.TASK_CANCEL, audit=A.TASK_CANCEL)
    )
    add(app, "POST", f"{TASK}/retry", tasks.retry_task, Access(P.TASK_RETRY, audit=A.TASK_RETRY))
    add(app, "GET", "/api/users", admin.list_users, Access(P.PEOPLE_MANAGE))
    add(app, "POST", "/api/users", admin.add_user, Access(P.PEOPLE_MANAGE))
    add(app, "PATCH", "/api/users/{username}", admin.change_user, Access(P.PEOPLE_MANAGE))
    add(app, "POST", "/api/users/{username}/link", admin.user_link, Access(P.PEOPLE_MANAGE))
    add(app, "GET", "/api/tokens", admin.list_tokens, Access(P.TOKENS_OWN))
    add(app, "POST", "/api/tokens", admin.create_token, Access(P.TOKENS_OWN))
    add(app, "DELETE", r"/api/tokens/{token_id:\d{1,12}}", admin.revoke_token, Access(P.TOKENS_OWN))
    add(app, "GET", "/api/audit", admin.audit_log, Access(P.AUDIT_READ, audit=A.AUDIT_READ))
    add(app, "GET", "/api/audit/export.csv", admin.audit_csv,
        Access(P.AUDIT_READ, audit=A.AUDIT_EXPORT))  # fmt: skip
    _records_routes(app)
    STATIC.mkdir(exist_ok=True)
    app.router.add_static("/static/", STATIC, append_version=False)
