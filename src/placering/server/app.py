"""create_app(settings): the FastAPI application: the JSON API under /api/v1 (OpenAPI document at
/api/v1/openapi.json), the browser sign-in routes under /auth, and the web pages (placering.web,
when installed) at /.

Every error is JSON with a stable `code` and a `message` for people from the gettext catalogue
(placering.i18n) in the request's language (Accept-Language; Swedish by default), never a
traceback; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from .. import __version__
from ..errors import PlaceringError
from .auth.sessions import COOKIE
from .errors import AnswerInRequestLanguage, Throttled, status_and_code
from .settings import ServerSettings

API = "/api/v1"
log = logging.getLogger("placering.server")


def _web_router():
    """WEB's pages, if that package exists (the API works without it)."""
    if importlib.util.find_spec("placering.web") is None or importlib.util.find_spec("placering.web.router") is None:
        return None
    return importlib.import_module("placering.web.router")


def _answer(request: Request, status: int, content: dict, headers: dict | None = None):
    renderer = getattr(request.app.state, "error_renderer", None)
    if renderer is not None and not request.url.path.startswith(API + "/"):
        return renderer(request, status, content)
    return JSONResponse(content, status_code=status, headers=headers)


def _language(request: Request) -> str:
    """The API answers in the request's language (Accept-Language, Swedish by default); the web
    pages are Swedish."""
    from .errors import request_language

    return request_language(request) if request.url.path.startswith(API + "/") else "sv"


def _said(request: Request, code: str, message, **extra) -> dict:
    from ..cli.messages import said

    return {"code": code, "message": said(message, _language(request)), **extra}


def _validation_message(exc: RequestValidationError, lang: str) -> tuple[str, list[dict]]:
    """A 422's message in `lang` and its problems: each error said by its type (fielderrors, the one
    place pydantic's refusals are worded); `field` and `type` (pydantic's code) are for programs."""
    from ..errors import Problem
    from ..fielderrors import field_path, message_of
    from ..i18n import msg

    problems, said = [], []
    for e in exc.errors()[:20]:
        where = field_path(e.get("loc", ())) or None
        problem = Problem(message_of(e), field=where)
        said.append(problem.render(lang))
        problems.append({"field": where or "", "problem": Problem(problem.message).render(lang), "type": e.get("type")})
    text = "; ".join(said) or msg("api.request_not_valid").render(lang)
    return msg("api.invalid_input", problems=text).render(lang), problems


def _install_error_handlers(app: FastAPI) -> None:
    from ..i18n import msg

    @app.exception_handler(PlaceringError)
    async def placering_error(request: Request, exc: PlaceringError):
        status, code = status_and_code(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else None
        if status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        # a message with an id is said from the gettext catalogue (placering.i18n), in the
        # request's language
        return _answer(request, status, _said(request, code, exc), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        message, problems = _validation_message(exc, _language(request))
        return _answer(request, 422, {"code": "invalid_input", "message": message, "problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        codes = {404: ("not_found", msg("api.no_such_address")), 405: ("method_not_allowed", msg("api.method_not_allowed"))}
        code, message = codes.get(exc.status_code, ("refused", str(exc.detail)))
        if exc.status_code == 404 and exc.detail not in (None, "Not Found"):
            message = exc.detail
        return _answer(request, exc.status_code, _said(request, code, message), getattr(exc, "headers", None))

    @app.exception_handler(SQLAlchemyError)
    async def database_error(request: Request, exc: SQLAlchemyError):
        # Answered here, not in the catch-all below (starlette re-raises what that one answers).
        from sqlalchemy.exc import DataError, TimeoutError as PoolTimeout

        from ..storage.database import busy_error, is_busy, is_retryable

        if isinstance(exc, PoolTimeout):
            return _answer(request, 503, _said(request, "database_busy", msg("api.pool_busy")))
        if isinstance(exc, DataError):  # a value the database cannot hold (an id beyond its integers, …)
            return _answer(request, 422, _said(request, "invalid_input", msg("api.out_of_range")))
        if is_busy(exc):
            return _answer(request, 503, _said(request, "database_busy", busy_error()))
        if is_retryable(exc):
            return _answer(request, 409, _said(request, "conflict", msg("api.collided")))
        if getattr(getattr(exc, "orig", None), "sqlstate", None) == "42501":
            return _answer(request, 403, _said(request, "not_permitted", msg("api.database_refused")))
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error in %s %s", request.method, request.scope.get("route") and
                      request.scope["route"].path)
        return _answer(request, 500, _said(request, "internal_error", msg("api.internal_error")))


def create_app(settings: ServerSettings | None = None, *, engine=None) -> FastAPI:
    from ..storage import make_engine
    from . import logging as request_logging
    from .api import api_router
    from .auth.oidc import router as oidc_router

    settings = (settings or ServerSettings()).checked()

    @asynccontextmanager
    async def lifespan(_app):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        yield

    app = FastAPI(title="placering", version=__version__, openapi_url=f"{API}/openapi.json", lifespan=lifespan,
                  docs_url=f"{API}/docs", redoc_url=None,
                  description="The supplier register and placement matching of municipal social services: "
                  "the JSON API of the application server (issue 17). Errors are JSON with a stable `code` "
                  "and a Swedish `message`.")
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.database_url)
    app.state.error_renderer = None
    _install_error_handlers(app)
    app.include_router(api_router, prefix=API)
    app.include_router(oidc_router)
    web = _web_router()
    if web is not None:
        app.include_router(web.router)
        if hasattr(web, "render_error"):
            app.state.error_renderer = web.render_error
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie=COOKIE,
                       max_age=settings.session_minutes * 60, same_site=settings.same_site,
                       https_only=settings.cookie_secure)
    if settings.log_requests:
        request_logging.configure()
        app.add_middleware(request_logging.RequestLog, secret_key=settings.secret_key)
    app.add_middleware(AnswerInRequestLanguage)
    app.add_middleware(ServerTiming)
    return app


class ServerTiming:
    """`Server-Timing: app;dur=MS` on every answer: the time the server took, from the request
    until its answer starts (what `placering bench web` reports as server-side latency, apart
    from the client's and the network's share)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        import time

        start = time.perf_counter()

        async def timed(message):
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                message = dict(message, headers=[*message.get("headers", ()), (b"server-timing",
                                                                                f"app;dur={ms:.1f}".encode())])
            await send(message)

        await self.app(scope, receive, timed)
