"""The review web site (Flask): log in, work through the queue, decide pairs by keyboard.

    kinmatch review serve --db cases.db            # http://127.0.0.1:8765
    kinmatch review adduser --db cases.db --role admin alice

Or from Python (e.g. behind a WSGI server)::

    >>> from kinmatch.review import Store, create_app
    >>> import tempfile
    >>> app = create_app(Store(tempfile.mkdtemp() + "/cases.db"))
    >>> app.test_client().get("/").status_code      # not logged in: sent to the login page
    302

Security, in one place: every page but the login page needs a session (sessions are signed with
a key generated and kept per store); admin pages answer 403 to reviewers; every POST carries the
session's CSRF token; an account that fails to log in 5 times in 15 minutes is locked for the
rest of those 15 minutes (429, logged); templates autoescape, and a Content-Security-Policy allows only this site's
own script, so a ``<script>`` typed into a record is shown as text and never runs; every view of a
record is written to the access log. No page loads anything from the network.
"""

from __future__ import annotations

import functools
import hmac
import io
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from flask import (Flask, Response, abort, flash, g, redirect, render_template, request, send_file,
                   session, url_for)

from kinmatch.review.store import DECISION_LABELS, EXCLUSION_REASONS, Store, StoreError

__all__ = ["create_app", "COMPARISON_NAMES", "FIELD_ROWS"]

COMPARISON_NAMES = {
    "name": "姓名", "sex": "性别", "age": "年龄", "height": "身高", "time_gap": "时间间隔",
    "geography": "地理距离", "accent": "口音", "statement_places": "自述地名", "marks": "体貌特征",
    "conditions": "健康状况", "build": "体型", "hair": "发型发色",
}
"""Chinese name of each comparison, for the explanation chart."""

FIELD_ROWS = (
    # label, resident field, report field, comparison whose weight colours the row
    ("姓名", "name", "name", "name"),
    ("别名/小名", "alias", "alias", "name"),
    ("姓名来源", "name_source", None, None),
    ("性别", "sex", "sex", "sex"),
    ("年龄", "age", "age", "age"),
    ("出生日期", "birth_date", "birth_date", "age"),
    ("身高", "height", "height", "height"),
    ("入站日期 / 走失日期", "found_date", "missing_date", "time_gap"),
    ("发现地点 / 走失地点", "found_place", "missing_place", "geography"),
    ("户籍地", None, "hometown", "geography"),
    ("口音 / 方言", "accent", "dialect", "accent"),
    ("自述", "statements", None, "statement_places"),
    ("体貌特征", "description", "description", "marks"),
    ("衣着", "clothing", "clothing", None),
    ("健康状况", "health", "health", "conditions"),
    ("救助站 / 信息来源", "station", "source", None),
)
"""Rows of the side-by-side view. The report's family contact is private and never shown."""

_PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
_CSP = ("default-src 'self'; img-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(_text(v) for v in value if v is not None)
    return str(value).strip()


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


def create_app(store: Store | str, *, photo_dir: str | Path | None = None, secret_key: str | None = None) -> Flask:
    """The Flask app for one case store (a :class:`Store` or its path/URL).

    ``photo_dir``: local photo paths in resident records are served only from inside this folder
    (default: the current directory); photo URLs are shown as links, never fetched.
    """
    if not isinstance(store, Store):
        store = Store(store)
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=secret_key or store.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1 << 20,
        KINMATCH_STORE=store,
        KINMATCH_PHOTO_DIR=Path(photo_dir or Path.cwd()).resolve(),
        KINMATCH_LOGIN_THROTTLE=LoginThrottle(),
    )

    def current_store() -> Store:
        return app.config["KINMATCH_STORE"]

    # ---- session, CSRF, roles -----------------------------------------------------------

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    app.jinja_env.globals.update(csrf_token=csrf_token, DECISION_LABELS=DECISION_LABELS,
                                 COMPARISON_NAMES=COMPARISON_NAMES)

    @app.before_request
    def guard():
        g.user = None
        username = session.get("user")
        if username:
            user = current_store().user(username)
            if user and user["active"]:
                g.user = user
            else:
                session.clear()
        if g.user is None and request.endpoint not in ("login", "static", "favicon"):
            return redirect(url_for("login", next=request.full_path if request.method == "GET" else None))
        if request.method == "POST":
            sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
            expected = session.get("csrf") or ""
            if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
                abort(400, description="缺少或无效的 CSRF 令牌，请刷新页面后重试。")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def admin_required(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None or g.user["role"] != "admin":
                abort(403, description="此页面仅限管理员。")
            return view(*args, **kwargs)
        return wrapped

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(404)
    def error_page(error):
        return render_template("error.html", error=error), error.code

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)  # browsers ask for it; nothing to fetch, nothing to log

    # ---- login ----------------------------------------------------------------------------

    def safe_next(target: str | None) -> str:
        # only a path on this site: "//evil.example" or "https://..." would be an open redirect
        if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
        return url_for("queue")

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            username = request.form.get("username", "")
            throttle = app.config["KINMATCH_LOGIN_THROTTLE"]
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

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    # ---- queue and pairs ----------------------------------------------------------------

    def order_arg() -> str:
        return "informative" if request.values.get("order") == "informative" else "probability"

    def pair_url(key, order):
        if key is None:
            return None
        args = {"order": order} if order != "probability" else {}
        return url_for("pair", resident_id=key[0], missing_id=key[1], **args)

    @app.get("/")
    def queue():
        order = order_arg()
        queued = current_store().queue(limit=200, order=order)
        # the queue shows names of both sides: who looked at which list is logged too
        current_store().log_access(g.user["username"], "view_queue", detail=f"{order}: {len(queued)} pairs")
        return render_template("queue.html", rows=queued.to_dict("records"), order=order,
                               total=len(current_store().queue(order=order)))

    @app.get("/next")
    def next_pair():
        order = order_arg()
        first = current_store().queue(limit=1, order=order)
        if first.empty:
            flash("队列已审完：没有待审核的候选。")
            return redirect(url_for("queue", order=order))
        return redirect(pair_url((first.iloc[0]["resident_id"], first.iloc[0]["missing_id"]), order))

    @app.get("/pair/<resident_id>/<missing_id>")
    def pair(resident_id: str, missing_id: str):
        store_ = current_store()
        order = order_arg()
        candidate = store_.candidate(resident_id, missing_id)
        if candidate is None:
            abort(404, description=f"没有候选 {resident_id} × {missing_id}。")
        resident = store_.resident(resident_id) or {}
        report = store_.report(missing_id) or {}
        for kind, record_id in (("resident", resident_id), ("report", missing_id)):
            store_.log_access(g.user["username"], "view", kind, record_id, detail="pair")
        weights = candidate["weights"] or {}
        levels = candidate["levels"] or {}
        rows = []
        for label, left, right, comparison in FIELD_ROWS:
            left_value = _text(resident.get(left)) if left else ""
            right_value = _text(report.get(right)) if right else ""
            if not left_value and not right_value:
                continue
            weight = weights.get(comparison) if comparison else None
            state = ""
            if weight is not None and left_value and right_value:
                state = "agree" if weight > 0.05 else "conflict" if weight < -0.05 else ""
            rows.append({"label": label, "left": left_value, "right": right_value, "state": state})
        from kinmatch.match.comparisons import LEVEL_LABELS

        largest = max([abs(float(w)) for w in weights.values() if w is not None] + [1.0])
        bars = []
        for comparison, weight in weights.items():
            if weight is None:
                continue
            level = levels.get(comparison)
            bars.append({"name": COMPARISON_NAMES.get(comparison, comparison), "weight": float(weight),
                         "width": round(50 * abs(float(weight)) / largest, 1),
                         "level": LEVEL_LABELS.get(comparison, {}).get(level, "") if level is not None else ""})
        previous, following = store_.neighbours(resident_id, missing_id, order)
        # the resident's other candidates: a report already confirmed for them is worth knowing
        others = store_.candidates_of("resident", resident_id)
        others = others[others["missing_id"] != str(missing_id)].to_dict("records")
        return render_template(
            "pair.html", candidate=candidate, resident=resident, report=report, rows=rows, bars=bars, others=others,
            history=store_.history(resident_id, missing_id).to_dict("records"),
            reasons=EXCLUSION_REASONS, order=order, photo=photo_of(resident, resident_id),
            prev_url=pair_url(previous, order), next_url=pair_url(following, order))

    @app.post("/pair/<resident_id>/<missing_id>/decide")
    def decide(resident_id: str, missing_id: str):
        store_ = current_store()
        order = order_arg()
        decision = request.form.get("decision", "")
        reason = (request.form.get("reason") or "").strip()
        note = (request.form.get("note") or "").strip()
        if decision == "not_same" and not reason:
            flash("排除（非同一人）须选择原因。")
            return redirect(pair_url((resident_id, missing_id), order))
        try:
            store_.decide(resident_id, missing_id, decision, g.user["username"],
                          reason=reason or None, note=note or None)
        except StoreError as error:
            abort(400, description=str(error))
        flash(f"已记录：{resident_id} × {missing_id} → {DECISION_LABELS[decision]}")
        _, following = store_.neighbours(resident_id, missing_id, order)
        if following is None:
            flash("队列已审完：没有待审核的候选。")
            return redirect(url_for("queue", order=order))
        return redirect(pair_url(following, order))

    # ---- records, photos, search -------------------------------------------------------

    def photo_of(record: dict, resident_id: str) -> dict | None:
        value = _text(record.get("photo"))
        if not value:
            return None
        if value.lower().startswith(("http://", "https://")):
            return {"kind": "url", "url": value}
        return {"kind": "local", "url": url_for("photo", resident_id=resident_id)} if local_photo(value) else None

    def local_photo(value: str) -> Path | None:
        root = app.config["KINMATCH_PHOTO_DIR"]
        try:
            path = (root / value).resolve()
        except (OSError, ValueError):
            return None
        # the path comes from a record, not the request, but a record may come from anywhere:
        # serve only image files inside the photo folder
        if not path.is_relative_to(root) or path.suffix.lower() not in _PHOTO_SUFFIXES or not path.is_file():
            return None
        return path

    @app.get("/photo/<resident_id>")
    def photo(resident_id: str):
        record = current_store().resident(resident_id) or {}
        path = local_photo(_text(record.get("photo")))
        if path is None:
            abort(404, description="没有可显示的照片。")
        current_store().log_access(g.user["username"], "view_photo", "resident", resident_id)
        return send_file(path)

    @app.get("/record/<kind>/<record_id>")
    def record(kind: str, record_id: str):
        if kind not in ("resident", "report"):
            abort(404)
        store_ = current_store()
        data = store_.resident(record_id) if kind == "resident" else store_.report(record_id)
        if data is None:
            abort(404, description=f"没有记录 {record_id}。")
        store_.log_access(g.user["username"], "view", kind, record_id, detail="record")
        data = {k: _text(v) for k, v in data.items() if k != "contact" or kind == "resident"}
        pairs = store_.candidates_of(kind, record_id)
        return render_template("record.html", kind=kind, record_id=record_id, data=data,
                               pairs=pairs.to_dict("records"),
                               photo=photo_of(data, record_id) if kind == "resident" else None)

    @app.get("/search")
    def search():
        query = (request.args.get("q") or "").strip()
        results = current_store().search(query) if query else None
        if query:
            current_store().log_access(g.user["username"], "search", detail=query[:200])
        return render_template("search.html", query=query,
                               results=[] if results is None else results.to_dict("records"))

    # ---- admin ----------------------------------------------------------------------------

    @app.route("/admin/users", methods=["GET", "POST"])
    @admin_required
    def admin_users():
        store_ = current_store()
        if request.method == "POST":
            try:
                store_.add_user(request.form.get("username", "").strip(), request.form.get("password", ""),
                                request.form.get("role", "reviewer"))
                store_.log_access(g.user["username"], "add_user", detail=request.form.get("username", ""))
                flash("已保存用户。")
            except StoreError as error:
                flash(f"未保存：{error}")
            return redirect(url_for("admin_users"))
        return render_template("admin_users.html", users=store_.users().to_dict("records"),
                               default_model=store_.default_model())

    @app.post("/admin/users/<username>/active")
    @admin_required
    def admin_user_active(username: str):
        current_store().set_active(username, request.form.get("active") == "1")
        current_store().log_access(g.user["username"], "set_active", detail=username)
        return redirect(url_for("admin_users"))

    @app.get("/admin/log")
    @admin_required
    def admin_log():
        log = current_store().access_log().tail(500).iloc[::-1]
        return render_template("admin_log.html", rows=log.to_dict("records"))

    @app.get("/admin/export")
    @admin_required
    def admin_export():
        from kinmatch.review.export import export_decisions

        which = request.args.get("which", "same")
        frame = export_decisions(current_store(), which=None if which == "all" else which)
        current_store().log_access(g.user["username"], "export", detail=f"{which}: {len(frame)} rows")
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        data = io.BytesIO(buffer.getvalue().encode("utf-8-sig"))
        name = f"reviewed_{which}.csv"
        return send_file(data, mimetype="text/csv", as_attachment=True, download_name=name)

    return app


def serve(store: Store | str, host: str = "127.0.0.1", port: int = 8765, photo_dir: str | None = None) -> None:
    """Run the review site with Werkzeug's threaded server (a studio's handful of reviewers)."""
    app = create_app(store, photo_dir=photo_dir)
    app.run(host=host, port=int(port), threaded=True, debug=False, use_reloader=False)
