"""The arena's web page and JSON API (Starlette), over the database of arena.store.

Auth: ``Authorization: Bearer TOKEN`` (scripts), or the page's session cookie (HttpOnly, SameSite=Strict) that
``POST /api/login`` sets for a pasted token. A cookie-authenticated POST must carry the session's CSRF token in
``X-CSRF-Token`` and come from this origin (Origin and Sec-Fetch-Site checked); bearer requests are exempt, since a
browser never adds that header by itself. Every response carries a strict Content-Security-Policy (no inline
script: the page's JS is a static file that renders answers with textContent), nosniff and frame-ancestors 'none'.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import store
from .issue import next_battle
from .pool import Pool
from .ranking import arena_ranking

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "arena_session"
MAX_BODY = 16 * 1024
MAX_REASON = 1000
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store")]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ArenaConfig:
    db: Path
    pool: Pool
    max_votes_per_day: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Caller:
    voter: store.Voter
    session: str | None  # None: a bearer request


def csrf_token(session: str) -> str:
    """The session's CSRF token: derived from the session id (which the page's JS cannot read: HttpOnly)."""
    return hashlib.sha256(b"arena-csrf:" + session.encode()).hexdigest()


class _Connections:
    """One SQLite connection per worker thread (a connection is not shared between threads at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.local = threading.local()
        self.lock = threading.Lock()
        self.rng = np.random.default_rng()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = store.connect(self.path)
        return conn

    def random(self) -> np.random.Generator:
        # numpy Generators are not thread-safe: each draw gets a child seeded under a lock.
        with self.lock:
            return np.random.default_rng(self.rng.integers(2**63))


class SecureHeaders:
    """ASGI middleware: the security headers on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, sending)


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, its body capped at ``MAX_BODY`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise Refused(413, f"request body over {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, f"request body over {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, "the body must be a JSON object") from exc
    except RecursionError as exc:  # "[[[[..." a few thousand deep: the decoder's recursion limit
        raise Refused(400, "the body is nested too deeply: send a flat JSON object") from exc
    if not isinstance(data, dict):
        raise Refused(400, "the body must be a JSON object")
    return data


def _same_origin(request: Request) -> bool:
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class ArenaApi:
    """The endpoints. Database calls run in the thread pool, each thread on its own connection."""

    def __init__(self, config: ArenaConfig) -> None:
        self.config = config
        self.connections = _Connections(config.db)

    def _db(self, function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        return run_in_threadpool(lambda: function(self.connections.get(), *args))

    async def caller(self, request: Request, post: bool = False) -> Caller:
        """Who asks: a bearer token, or the session cookie (then a POST must pass the CSRF checks)."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            voter = await self._db(store.voter_for_token, token.strip()) if scheme.lower() == "bearer" else None
            if voter is None:
                raise Refused(401, "invalid token: ask the arena's organiser for an invite")
            return Caller(voter, None)
        session = request.cookies.get(COOKIE)
        voter = await self._db(store.voter_for_session, session) if session else None
        if voter is None or session is None:
            raise Refused(401, "not logged in: paste your invite token on the arena's page")
        if post:
            sent = request.headers.get("x-csrf-token", "")
            if not _same_origin(request) or not hmac.compare_digest(sent.encode(), csrf_token(session).encode()):
                raise Refused(403, "cross-site request refused (missing or wrong X-CSRF-Token, or foreign Origin)")
        return Caller(voter, session)

    async def login(self, request: Request) -> Response:
        if not _same_origin(request):
            raise Refused(403, "cross-site login refused")
        token = (await read_json(request)).get("token")
        if not isinstance(token, str) or not token.strip() or len(token) > 200:
            raise Refused(400, "send {\"token\": your invite token}")
        voter = await self._db(store.voter_for_token, token.strip())
        if voter is None:
            raise Refused(401, "invalid token: ask the arena's organiser for an invite")
        session = await self._db(store.new_session, voter)
        response = JSONResponse({"voter": voter.name, "csrf": csrf_token(session)})
        response.set_cookie(COOKIE, session, max_age=int(store.SESSION_LIFETIME.total_seconds()), httponly=True,
                            samesite="strict", secure=request.url.scheme == "https", path="/")
        return response

    async def logout(self, request: Request) -> Response:
        who = await self.caller(request, post=True)
        if who.session:
            await self._db(store.end_session, who.session)
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def me(self, request: Request) -> Response:
        # Whether the page is logged in: a question, not a refusal, so "no" is a 200 (no error in the console).
        try:
            who = await self.caller(request)
        except Refused:
            return JSONResponse({"voter": None, "csrf": None})
        return JSONResponse({"voter": who.voter.name, "csrf": csrf_token(who.session) if who.session else None})

    async def battle(self, request: Request) -> Response:
        who = await self.caller(request)
        shown = await self._db(next_battle, who.voter, self.config.pool, self.connections.random(),
                               store.now_utc(), self.config.max_votes_per_day)
        return JSONResponse(shown.public())

    async def vote(self, request: Request) -> Response:
        who = await self.caller(request, post=True)
        data = await read_json(request)
        battle_id, winner, reason = data.get("battle_id"), data.get("winner"), data.get("reason")
        if not isinstance(battle_id, str) or not battle_id or len(battle_id) > 64:
            raise Refused(400, "battle_id must be the id GET /api/battle gave")
        if winner not in store.WINNERS:
            raise Refused(400, f"winner must be one of {', '.join(store.WINNERS)}")
        if reason is not None and not isinstance(reason, str):
            raise Refused(400, "reason must be text")
        if reason is not None and len(reason) > MAX_REASON:
            raise Refused(400, f"reason over {MAX_REASON} characters: shorten it")
        shown = await self._db(store.record_vote, who.voter, battle_id, winner, (reason or "").strip() or None,
                               self.config.max_votes_per_day, store.now_utc())
        return JSONResponse({"model_a": shown.model_a, "model_b": shown.model_b, "winner": winner,
                             "counted": shown.flagged is None and shown.check_of is None,
                             "flagged": shown.flagged, "consistency_check": shown.check_of is not None})

    async def ranking(self, request: Request) -> Response:
        await self.caller(request)
        return JSONResponse(asdict(await run_in_threadpool(arena_ranking, self.config.db)))

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def ranking_page(self, request: Request) -> Response:
        await self.caller(request)
        return FileResponse(STATIC / "ranking.html", media_type="text/html")


def _refusals(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A refusal is a JSON ``{"error": ...}`` with its status."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except store.ArenaError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
    return endpoint


async def _no_icon(request: Request) -> Response:
    return Response(status_code=204)


def create_app(config: ArenaConfig) -> Starlette:
    """The arena's ASGI app (creates the database when missing; refuses one of another benchmark)."""
    store.open_db(config.db, config.pool.benchmark, config.pool.task_name).close()
    api = ArenaApi(config)
    routes = [
        Route("/", _refusals(api.page)),
        Route("/ranking", _refusals(api.ranking_page)),
        Route("/favicon.ico", _no_icon),
        Route("/api/login", _refusals(api.login), methods=["POST"]),
        Route("/api/logout", _refusals(api.logout), methods=["POST"]),
        Route("/api/me", _refusals(api.me)),
        Route("/api/battle", _refusals(api.battle)),
        Route("/api/vote", _refusals(api.vote), methods=["POST"]),
        Route("/api/ranking", _refusals(api.ranking)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecureHeaders)])
