"""``create_app``: the Flask app for one case store, and the checks every request passes.

Security, in one place: every page but the login page needs a session (sessions are signed with
a key generated and kept per store, checked on every request against the user's session version,
so logout and a password reset end them, and last at most 12 hours: :mod:`.auth`); admin pages
answer 403 to reviewers; every POST carries the session's CSRF token; login attempts are reserved
before the password is checked and limited per account (5 in 15 minutes) and per client address
(20, over all accounts); templates autoescape, and a Content-Security-Policy allows only this
site's own script, so a ``<script>`` typed into a record is shown as text and never runs; every
view of a record is written to the access log. No page loads anything from the network.

Served beyond this machine (``--host`` other than localhost), session cookies are ``Secure``: the
browser sends them over HTTPS only, so put a TLS reverse proxy (nginx, Caddy) in front of the site.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path

from flask import Flask, Response, abort, g, redirect, render_template, request, session, url_for

from kinmatch.review.store import DECISION_LABELS, Store
from kinmatch.review.web import admin, auth, cases, pairs, photos, queue, records
from kinmatch.review.web.common import ACTION_LABELS, FIELD_LABELS, RecordIdConverter, beijing

__all__ = ["create_app", "serve"]

_CSP = ("default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_OPEN_ENDPOINTS = ("auth.login", "static", "favicon")


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _guard():
    """Before every request: who is logged in; the login page for anyone else; CSRF on POST."""
    g.user = auth.check_session()
    if g.user is None and request.endpoint not in _OPEN_ENDPOINTS:
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if request.method == "POST":
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        expected = session.get("csrf") or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(400, description="缺少或无效的 CSRF 令牌，请刷新页面后重试。")
    return None


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(error):
    return render_template("error.html", error=error), error.code


def is_local_host(host: str) -> bool:
    """True for an address only this machine can reach (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(store: Store | str, *, photo_dir: str | Path | None = None, secret_key: str | None = None,
               secure_cookies: bool = False, proxies: int = 0) -> Flask:
    """The Flask app for one case store (a :class:`Store` or its path/URL).

    ``photo_dir``: local photo paths in resident records are served only from inside this folder
    (default: the current directory); photo URLs are shown as links, never fetched.
    ``secure_cookies``: mark session cookies ``Secure`` (HTTPS only); :func:`serve` sets it for any
    address but localhost. ``proxies``: how many reverse proxies stand in front of the site, so the
    login throttle limits the client's address (from ``X-Forwarded-For``) and not the proxy's.
    """
    if not isinstance(store, Store):
        store = Store(store)
    # named after the review package, so templates/ and static/ beside this package are found
    app = Flask("kinmatch.review", template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=secret_key or store.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure_cookies),
        PERMANENT_SESSION_LIFETIME=auth.SESSION_LIFETIME,
        MAX_CONTENT_LENGTH=1 << 20,
        KINMATCH_STORE=store,
        KINMATCH_PHOTO_DIR=Path(photo_dir or Path.cwd()).resolve(),
        KINMATCH_LOGIN_THROTTLE=auth.LoginThrottle(),
    )
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(proxies), x_proto=int(proxies))
    app.url_map.converters["id"] = RecordIdConverter  # before the blueprints' routes use it
    app.jinja_env.globals.update(csrf_token=_csrf_token, DECISION_LABELS=DECISION_LABELS,
                                 COMPARISON_NAMES=pairs.COMPARISON_NAMES, ROW_STATES=pairs.ROW_STATES,
                                 FIELD_LABELS=FIELD_LABELS, ACTION_LABELS=ACTION_LABELS)
    app.jinja_env.filters["bj"] = beijing
    app.before_request(_guard)
    app.after_request(_headers)
    for code in (400, 403, 404):
        app.register_error_handler(code, _error_page)
    # browsers ask for it; nothing to fetch, nothing to log
    app.add_url_rule("/favicon.ico", "favicon", lambda: Response(status=204))
    for module in (auth, queue, pairs, cases, records, photos, admin):
        app.register_blueprint(module.bp)
    return app


def serve(store: Store | str, host: str = "127.0.0.1", port: int = 8765, photo_dir: str | None = None,
          proxies: int = 0, threads: int = 8) -> None:
    """Run the review site on waitress, a production WSGI server that runs on Windows and Linux
    alike (pure Python, no compiler), with ``threads`` worker threads for a studio's reviewers.

    Waitress writes no request log, so nothing typed into the site (search terms are names of
    real people) reaches a server log; who looked at what is in the store's access log instead.
    On any address but localhost, session cookies are ``Secure`` (sent over HTTPS only): serve
    the site through a TLS reverse proxy, never as plain HTTP across a network.
    """
    import waitress

    app = create_app(store, photo_dir=photo_dir, secure_cookies=not is_local_host(host), proxies=proxies)
    waitress.serve(app, host=host, port=int(port), threads=int(threads), ident="kinmatch")
