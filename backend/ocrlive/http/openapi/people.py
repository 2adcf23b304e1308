"""Signing in (http/session.py, http/oidc.py) and the admin pages' API (http/admin.py):
people, API tokens, the audit log."""

from __future__ import annotations

from typing import Any

from ocrlive.http.openapi.components import (
    REDIRECT,
    errors,
    json_body,
    object_schema,
    query,
)
from ocrlive.identity.permissions import Permission, Role, Via

_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_OPT_STR = {"type": ["string", "null"]}
_PUBLIC: list[dict[str, list[str]]] = [{}]
_ROLE = {"enum": [r.value for r in Role]}

USER = object_schema(
    {
        "id": _INT,
        "username": _STR,
        "role": _ROLE,
        "disabled": _BOOL,
        "source": {"type": "string", "description": "local, oidc or proxy"},
        "has_password": _BOOL,
        "created_at": _STR,
        "updated_at": _STR,
    }
)
TOKEN = object_schema(
    {
        "id": _INT,
        "name": _STR,
        "prefix": {"type": "string", "description": "its first characters"},
        "role": _ROLE,
        "user_id": _INT,
        "owner": _STR,
        "created_at": _STR,
        "last_used_at": _OPT_STR,
        "revoked_at": _OPT_STR,
    }
)
_WHO = {
    "type": "object",
    "required": ["id", "username", "role", "via", "permissions"],
    "properties": {
        "id": {"type": ["integer", "null"]},
        "username": _STR,
        "role": _ROLE,
        "via": {"enum": [v.value for v in Via]},
        "permissions": {"type": "array", "items": {"enum": [p.value for p in Permission]}},
        "has_password": _BOOL,
    },
    "additionalProperties": False,
}
SESSION = {
    "type": "object",
    "required": ["user"],
    "properties": {
        "user": _WHO,
        "idle_expires_at": _STR,
        "expires_at": _STR,
        "idle_timeout": {"type": "number", "description": "seconds"},
    },
    "additionalProperties": False,
}
_OK = object_schema({"ok": {"const": True}})
_LINK = {"type": "string", "description": "a single-use sign-in link, valid 15 minutes"}
_AUDIT_ENTRY = {"type": "object", "required": ["id", "at", "action", "hash"]}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "summary": summary,
        "tags": ["people"],
        "responses": responses,
        **extra,
    }


def _query(name: str, description: str, schema: dict[str, Any] = _STR) -> dict[str, Any]:
    return query(name, schema, description)


_USERNAME = {"name": "username", "in": "path", "required": True, "schema": _STR}
_AUDIT_FILTERS = [
    _query("user", "only what this person did"),
    _query("patient_id", "only about this patient"),
    _query("action", "only this action (e.g. task.read)"),
    _query("from", "on or after (ISO date or time)"),
    _query("to", "before (ISO date or time)"),
]

SIGN_IN: dict[str, Any] = {
    "/login": {
        "get": _op(
            "loginLink",
            "Use a single-use sign-in link: a session cookie, then the dashboard",
            {"302": REDIRECT, **errors("invalid_link", public=True)},
            security=_PUBLIC,
            description="A link that is not valid (any more) redirects to /?link=invalid.",
            parameters=[{"name": "link", "in": "query", "required": True, "schema": _STR}],
        )
    },
    "/login/oidc": {
        "get": _op(
            "oidcStart",
            "Single sign-on: off to the identity provider",
            {"302": REDIRECT, **errors("not_found", public=True)},
            security=_PUBLIC,
        )
    },
    "/login/oidc/callback": {
        "get": _op(
            "oidcCallback",
            "Back from the identity provider: a session, then the dashboard",
            {"302": REDIRECT, **errors("not_found", "invalid_link", public=True)},
            security=_PUBLIC,
            description="A failed sign-on redirects to /?sso=failed.",
            parameters=[_query("state", "as sent"), _query("code", "the provider's code")],
        )
    },
    "/api/auth": {
        "get": _op(
            "authConfig",
            "What the sign-in page offers",
            {
                "200": json_body(
                    object_schema(
                        {
                            "password": {"const": True},
                            "oidc": {
                                "oneOf": [
                                    {"type": "null"},
                                    object_schema({"name": _STR, "url": _STR}),
                                ]
                            },
                        }
                    ),
                    "The ways to sign in",
                ),
                **errors(public=True),
            },
            security=_PUBLIC,
        )
    },
    "/api/login": {
        "post": _op(
            "login",
            "Sign in with a password: sets the session cookie",
            {
                "200": json_body(SESSION, "Signed in"),
                **errors(
                    "invalid_request",
                    "invalid_credentials",
                    "rate_limited",
                    "forbidden_origin",
                    public=True,
                ),
            },
            security=_PUBLIC,
            requestBody=_body({"username": _STR, "password": _STR}, ["username", "password"]),
        )
    },
    "/api/logout": {
        "post": _op(
            "logout",
            "End this session",
            {"200": json_body(_OK, "Signed out"), **errors(write=True)},
        )
    },
    "/api/session": {
        "get": _op(
            "session",
            "Who is signed in, and when the session ends (does not extend it)",
            {"200": json_body(SESSION, "The session"), **errors()},
        )
    },
    "/api/session/refresh": {
        "post": _op(
            "refreshSession",
            "Extend the session (activity)",
            {"200": json_body(SESSION, "The session"), **errors(write=True)},
        )
    },
    "/api/me/password": {
        "put": _op(
            "changePassword",
            "Change your own password (the current one unless you have none)",
            {
                "200": json_body(_OK, "Changed"),
                **errors("invalid_request", "invalid_credentials", "weak_password", write=True),
            },
            requestBody=_body({"current": _STR, "password": _STR}, ["password"]),
        )
    },
}

ADMIN: dict[str, Any] = {
    "/api/users": {
        "get": _op(
            "listUsers",
            "Everyone, with role and state",
            {
                "200": json_body(
                    object_schema({"users": {"type": "array", "items": USER}}), "People"
                ),
                **errors(),
            },
        ),
        "post": _op(
            "addUser",
            "Add a person (no password: the answer carries a sign-in link)",
            {
                "201": json_body(
                    object_schema({"user": USER, "link": _LINK}, closed=False)
                    | {"required": ["user"]},
                    "Added",
                ),
                **errors("invalid_request", "weak_password", "already_exists", write=True),
            },
            requestBody=_body(
                {"username": _STR, "role": _ROLE, "password": _STR}, ["username", "role"]
            ),
        ),
    },
    "/api/users/{username}": {
        "patch": _op(
            "changeUser",
            "Change a role, disable or enable, set a password (ends their sessions)",
            {
                "200": json_body(object_schema({"user": USER}), "Changed"),
                **errors("invalid_request", "not_found", "weak_password", write=True),
            },
            parameters=[_USERNAME],
            requestBody=_body({"role": _ROLE, "disabled": _BOOL, "password": _STR}, []),
        )
    },
    "/api/users/{username}/link": {
        "post": _op(
            "userLink",
            "A single-use sign-in link to hand to the person (a reset)",
            {
                "200": json_body(object_schema({"link": _LINK}), "The link"),
                **errors("not_found", write=True),
            },
            parameters=[_USERNAME],
        )
    },
    "/api/tokens": {
        "get": _op(
            "listTokens",
            "Your API tokens (every one with ?all=1 and tokens.manage)",
            {
                "200": json_body(
                    object_schema({"tokens": {"type": "array", "items": TOKEN}}), "Tokens"
                ),
                **errors(),
            },
            parameters=[_query("all", "1: everyone's", {"enum": ["0", "1"]})],
        ),
        "post": _op(
            "createToken",
            "A new API token (its secret is in this answer only)",
            {
                "201": json_body(object_schema({"token": _STR, "info": TOKEN}), "Created"),
                **errors("invalid_request", "not_found", write=True),
            },
            requestBody=_body({"name": _STR, "role": _ROLE, "username": _STR}, ["name"]),
        ),
    },
    "/api/tokens/{token_id}": {
        "delete": _op(
            "revokeToken",
            "Revoke an API token",
            {
                "200": json_body(object_schema({"info": TOKEN}), "Revoked"),
                **errors("not_found", write=True),
            },
            parameters=[{"name": "token_id", "in": "path", "required": True, "schema": _INT}],
        )
    },
    "/api/audit": {
        "get": _op(
            "auditLog",
            "The audit log, newest first (200 rows a page)",
            {
                "200": json_body(
                    object_schema({"entries": {"type": "array", "items": _AUDIT_ENTRY}}), "Entries"
                ),
                **errors("invalid_request"),
            },
            parameters=[*_AUDIT_FILTERS, _query("before", "rows older than this id", _INT)],
        )
    },
    "/api/audit/export.csv": {
        "get": _op(
            "auditExport",
            "The audit log of a date range as CSV (from and to are required)",
            {
                "200": {"description": "CSV, oldest first", "content": {"text/csv": {}}},
                **errors("invalid_request"),
            },
            parameters=_AUDIT_FILTERS,
        )
    },
}

PATHS: dict[str, Any] = {**SIGN_IN, **ADMIN}
