"""Log in and out; failed logins are throttled per account."""

from __future__ import annotations

import secrets
import threading
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from kinmatch.review.web.common import current_store

bp = Blueprint("auth", __name__)

LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_SECONDS = 15 * 60
"""Failed logins allowed per account within the window; the next attempt waits out the window."""


class LoginThrottle:
    """Failed login attempts per account, in this process's memory.

    Hand-written rather than Flask-Limiter: that limits requests per client address, while what
    must stop is password guessing against one account (from any address); and the site runs as
    one local process, so nothing needs sharing. A restart clears it (that needs access to the
    machine, which a guesser over the network does not have).

        >>> throttle = LoginThrottle(allowed=2, window=60, clock=lambda: 0.0)
        >>> throttle.fail("alice"); throttle.fail("alice"); throttle.locked_for("alice")
        60.0
    """

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW_SECONDS,
                 clock=time.monotonic):
        self.allowed, self.window, self.clock = allowed, window, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, username: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._failures.get(username, []) if now - t < self.window]
        if recent:
            self._failures[username] = recent
        else:
            self._failures.pop(username, None)
        return recent

    def locked_for(self, username: str) -> float:
        """Seconds until ``username`` may try again (0 when it may now)."""
        with self._lock:
            recent = self._recent(username)
            if len(recent) < self.allowed:
                return 0.0
            return max(0.0, self.window - (self.clock() - recent[-self.allowed]))

    def fail(self, username: str) -> None:
        with self._lock:
            self._failures[username] = self._recent(username) + [self.clock()]

    def succeed(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the queue."""
    # only a path on this site: "//evil.example" or "https://..." would be an open redirect
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("queue.queue")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        username = request.form.get("username", "")
        throttle = current_app.config["KINMATCH_LOGIN_THROTTLE"]
        wait = throttle.locked_for(username)
        if wait > 0:
            # the password is not even checked while locked: guessing learns nothing
            current_store().log_access(username, "login_locked", detail=request.remote_addr)
            flash(f"该账号登录失败次数过多，已暂时锁定，请 {int(wait // 60) + 1} 分钟后再试。")
            return render_template("login.html"), 429
        user = current_store().authenticate(username, request.form.get("password", ""))
        if user is None:
            throttle.fail(username)
            current_store().log_access(username, "login_failed", detail=request.remote_addr)
            flash("用户名或密码错误。")
            return render_template("login.html"), 401
        throttle.succeed(username)
        session.clear()
        session["user"] = user["username"]
        session["csrf"] = secrets.token_urlsafe(32)
        current_store().log_access(user["username"], "login")
        return redirect(safe_next(request.args.get("next")))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
