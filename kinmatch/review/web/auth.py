"""Log in and out: throttled attempts, sessions that end on logout, password reset and after a day.

A session is a signed cookie (Flask's) holding the user name, the user's *session version* when
it was signed, and the time of login. Every request checks both (``check_session``): logging out,
a password reset and disabling an account raise the version in the store, which ends every copy of
the cookie, wherever it is; and a login older than :data:`SESSION_LIFETIME` is over.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
import threading
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from kinmatch.review.store import USERNAME_MAX
from kinmatch.review.web.common import current_store

bp = Blueprint("auth", __name__)

SESSION_LIFETIME = dt.timedelta(hours=12)
"""How long a login lasts: one working day. A reviewer logs in once per shift, and a cookie left on a
shared computer or copied elsewhere is useless by the next morning; shorter would log reviewers out
mid-shift, and they would answer with weaker habits (a browser that remembers the password)."""

LOGIN_FAILURES_ALLOWED = 5
"""Attempts per account within the window; the next one waits out the window."""
LOGIN_FAILURES_PER_ADDRESS = 20
"""Attempts from one client address within the window, over all account names together, so one
machine trying one password on many accounts (password spraying) is stopped too."""
LOGIN_WINDOW_SECONDS = 15 * 60
THROTTLE_MAX_KEYS = 20_000
"""Most account names and addresses the throttle remembers at once: it fills only from requests
nobody has authenticated, so it must stay bounded. When full of live entries, new ones are refused
until entries expire (a flood locks logins for a while instead of exhausting memory)."""


class Verdict(NamedTuple):
    """What :meth:`LoginThrottle.reserve` decided: ``wait`` seconds (0: go ahead and check the
    password, with ``ticket`` to hand back on success); ``first`` is True on the first refusal of a
    lock, the one worth logging (later ones would only let a guesser grow the log)."""
    wait: float
    ticket: int | None
    first: bool = False


class LoginThrottle:
    """Login attempts per account name and per client address, in this process's memory.

    An attempt is *reserved* before the password is checked, under one lock (:meth:`reserve`), and
    handed back only when the password was right (:meth:`succeed`): so 50 parallel guesses get at
    most ``allowed`` password checks, not 50. Account names longer than any account can have are
    cut (they only ever fail) and expired entries are pruned, so memory stays bounded.

    Hand-written rather than Flask-Limiter: that limits requests per address, while what must stop
    is guessing against one account from anywhere as well as from one address against many; and the
    site runs as one local process, so nothing needs sharing. A restart clears it (that needs access
    to the machine, which a guesser over the network does not have).

        >>> throttle = LoginThrottle(allowed=2, window=60, clock=lambda: 0.0)
        >>> [throttle.reserve("alice", "10.0.0.9").wait for _ in range(3)]
        [0.0, 0.0, 60.0]
    """

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_WINDOW_SECONDS,
                 per_address: int = LOGIN_FAILURES_PER_ADDRESS, max_keys: int = THROTTLE_MAX_KEYS,
                 clock=time.monotonic):
        self.allowed, self.window, self.per_address, self.max_keys = allowed, window, per_address, max_keys
        self.clock = clock
        self._attempts: dict[tuple[str, str], list[tuple[float, int]]] = {}
        self._told: dict[tuple[str, str], float] = {}  # key -> end of the lock already logged
        self._tickets = itertools.count(1)
        self._lock = threading.Lock()
        self._pruned_at = float("-inf")

    def _keys(self, username: str, address: str | None) -> list[tuple[tuple[str, str], int]]:
        keys = [(("user", username[:USERNAME_MAX + 1]), self.allowed)]
        if address:
            keys.append((("addr", address[:64]), self.per_address))
        return keys

    def _recent(self, key, now: float) -> list[tuple[float, int]]:
        recent = [a for a in self._attempts.get(key, ()) if now - a[0] < self.window]
        if recent:
            self._attempts[key] = recent
        else:
            self._attempts.pop(key, None)
        return recent

    def _wait(self, key, limit: int, now: float) -> float:
        recent = self._recent(key, now)
        if len(recent) < limit:
            return 0.0
        return max(0.0, self.window - (now - recent[-limit][0]))

    def _prune(self, now: float) -> None:
        for key in list(self._attempts):
            self._recent(key, now)
        self._told = {k: end for k, end in self._told.items() if end > now}
        self._pruned_at = now

    def __len__(self) -> int:
        """How many account names and addresses are remembered."""
        return len(self._attempts)

    def remembered(self) -> list[str]:
        """The account names and addresses it remembers attempts of (cut to a bounded length)."""
        with self._lock:
            return [key[1] for key in self._attempts]

    def reserve(self, username: str, address: str | None = None) -> Verdict:
        """Count one attempt now, before the password is checked, unless the account or address
        is locked; then ``Verdict(wait > 0, None, first)``."""
        with self._lock:
            now = self.clock()
            if now - self._pruned_at > 60 or len(self._attempts) >= self.max_keys:
                self._prune(now)
            keys = self._keys(username, address)
            waits = [(self._wait(key, limit, now), key) for key, limit in keys]
            wait, key = max(waits)
            if wait == 0 and len(self._attempts) + sum(k not in self._attempts for k, _ in keys) > self.max_keys:
                wait, key = self.window, ("full", "")
            if wait > 0:
                end = now + wait
                first = self._told.get(key, float("-inf")) < now
                if first:
                    self._told[key] = end
                return Verdict(wait, None, first)
            ticket = next(self._tickets)
            for key, limit in keys:
                # only the newest `limit` attempts decide a lock: older ones need not be kept
                self._attempts[key] = (self._recent(key, now) + [(now, ticket)])[-limit:]
            return Verdict(0.0, ticket)

    def succeed(self, username: str, address: str | None, ticket: int | None) -> None:
        """The password was right: the account starts afresh, and the address gets back the attempt."""
        with self._lock:
            for key, _ in self._keys(username, address):
                if key[0] == "user":
                    self._attempts.pop(key, None)
                elif key in self._attempts:
                    self._attempts[key] = [a for a in self._attempts[key] if a[1] != ticket]

    def locked_for(self, username: str, address: str | None = None) -> float:
        """Seconds until ``username`` (from ``address``) may try again (0 when it may now)."""
        with self._lock:
            now = self.clock()
            return max(self._wait(key, limit, now) for key, limit in self._keys(username, address))


# Control characters, spaces and backslashes: browsers drop tabs and newlines from a URL and read
# "\" as "/", so "/\t/evil.example" or "/\\evil.example" would leave the site.
_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f\\]")


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site (where to go after logging in), else the queue."""
    if (target and target.startswith("/") and not target.startswith("//")
            and not _UNSAFE_IN_NEXT.search(target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("queue.queue")


def check_session() -> dict | None:
    """The logged-in user of this request, or None (and the session cleared) if the session is
    missing, from an older session version, past its lifetime, or of a disabled account."""
    username = session.get("user")
    if not username:
        return None
    user = current_store().user(username)
    since = session.get("since")
    fresh = isinstance(since, (int, float)) and 0 <= time.time() - since < SESSION_LIFETIME.total_seconds()
    if user and user["active"] and session.get("version") == user["session_version"] and fresh:
        return user
    session.clear()
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        # nothing typed here is stored whole: a name longer than any account's is cut (it fails anyway)
        username = request.form.get("username", "")[:USERNAME_MAX + 1]
        address = request.remote_addr
        throttle = current_app.config["KINMATCH_LOGIN_THROTTLE"]
        verdict = throttle.reserve(username, address)
        if verdict.wait > 0:
            # the password is not even checked while locked: guessing learns nothing
            if verdict.first:
                current_store().log_access(username, "login_locked", detail=address)
            flash(f"登录失败次数过多（该账号或本机地址），已暂时锁定，请 {int(verdict.wait // 60) + 1} 分钟后再试。")
            return render_template("login.html"), 429
        user = current_store().authenticate(username, request.form.get("password", ""))
        if user is None:
            current_store().log_access(username, "login_failed", detail=address)
            flash("用户名或密码错误。")
            return render_template("login.html"), 401
        throttle.succeed(username, address, verdict.ticket)
        session.clear()
        session.permanent = True  # the cookie expires with the login (PERMANENT_SESSION_LIFETIME)
        session.update(user=user["username"], version=user["session_version"], since=time.time(),
                       csrf=secrets.token_urlsafe(32))
        current_store().log_access(user["username"], "login")
        return redirect(safe_next(request.args.get("next")))
    return render_template("login.html")


@bp.post("/logout")
def logout():
    # a signed cookie cannot be recalled: raising the version makes every copy of it worthless
    # (this ends the user's sessions in other browsers too)
    current_store().end_sessions(g.user["username"])
    current_store().log_access(g.user["username"], "logout")
    session.clear()
    return redirect(url_for("auth.login"))
