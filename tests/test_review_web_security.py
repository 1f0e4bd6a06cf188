"""The review site under attack (issue 17): parallel password guessing, spraying, hostile input
before login, replayed sessions, stale decisions, hostile ids and redirects, private columns.

The cases that involve the store run against SQLite and the real PostgreSQL of ``.ci/run``.
"""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urljoin, urlsplit

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from review_fixtures import MISSING, RESIDENTS, candidates_table, levels_table, store_url  # noqa: F401

from kinmatch.review.store import Store
from kinmatch.review.web import create_app
from kinmatch.review.web.auth import SESSION_LIFETIME, LoginThrottle, safe_next

PASSWORD = "reviewer-pass-1"


def open_site(url):
    store = Store(url)
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="run1", levels=levels_table())
    store.add_user("admin1", PASSWORD, "admin")
    store.add_user("rev1", PASSWORD, "reviewer")
    store.add_user("rev2", PASSWORD, "reviewer")
    app = create_app(store)
    app.config["TESTING"] = True
    return app, store


@pytest.fixture
def site(store_url):  # noqa: F811 - the fixture imported above, parametrized over both backends
    """The site on SQLite and on PostgreSQL: for what involves the store's locking and sessions."""
    app, store = open_site(store_url)
    yield app, store
    store.close()


@pytest.fixture
def local_site(tmp_path):
    """The site on SQLite only: for what happens in the web layer alone."""
    app, store = open_site(tmp_path / "cases.db")
    yield app, store
    store.close()


def token_of(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username, password=PASSWORD, status=302) -> str:
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token_of(client)})
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return token_of(client, "/") if status == 302 else ""


def based_on(page: str) -> str:
    return re.search(r'name="based_on" value="([^"]*)"', page).group(1)


# ---- login throttling ------------------------------------------------------------------------

def test_parallel_guesses_get_no_more_password_checks_than_allowed(site):
    app, store = site
    throttle = app.config["KINMATCH_LOGIN_THROTTLE"]
    checks = []
    real = store.authenticate

    def slow_authenticate(username, password):
        checks.append(password)
        time.sleep(0.05)  # a real hash takes this long: the window a check-then-act race needs
        return real(username, password)

    store.authenticate = slow_authenticate
    clients = [app.test_client() for _ in range(50)]
    tokens = [token_of(client) for client in clients]
    barrier = threading.Barrier(len(clients))
    statuses = []

    def guess(i):
        barrier.wait()
        # one of the fifty guesses is the right password: it must not get through by numbers
        password = PASSWORD if i == 49 else f"guess-{i}"
        response = clients[i].post("/login", data={"username": "rev1", "password": password,
                                                   "csrf_token": tokens[i]})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(checks) <= throttle.allowed
    assert statuses.count(429) >= len(clients) - throttle.allowed
    log = store.access_log("rev1")
    assert (log["action"] == "login_locked").sum() == 1  # logged once per lock, not per refused request


def test_one_address_spraying_many_accounts_is_stopped(site):
    app, store = site
    throttle = app.config["KINMATCH_LOGIN_THROTTLE"] = LoginThrottle(per_address=6)
    sprayer = app.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    token = token_of(sprayer)
    statuses = [sprayer.post("/login", data={"username": f"user{i}", "password": "Winter2026!",
                                             "csrf_token": token}).status_code
                for i in range(throttle.per_address + 1)]
    assert statuses == [401] * throttle.per_address + [429]
    # a right password from that address waits too; from another address it works
    assert sprayer.post("/login", data={"username": "rev1", "password": PASSWORD,
                                        "csrf_token": token}).status_code == 429
    colleague = app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "198.51.100.2"
    login(colleague, "rev1")


def test_hostile_user_names_before_login_are_cut_not_kept(site):
    app, store = site
    throttle = app.config["KINMATCH_LOGIN_THROTTLE"]
    client = app.test_client()
    token = token_of(client)
    huge = "x" * 400_000  # as long as the form parser accepts (the request limit is 1 MiB)
    response = client.post("/login", data={"username": huge, "password": "x", "csrf_token": token})
    assert response.status_code == 401
    logged = store.access_log()
    assert logged["username"].str.len().max() <= 128
    assert max(len(key) for key in throttle.remembered()) <= 65


def test_throttle_table_is_pruned_and_bounded():
    now = [0.0]
    throttle = LoginThrottle(allowed=5, window=60, per_address=20, max_keys=100, clock=lambda: now[0])
    for i in range(1000):
        throttle.reserve(f"name{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(throttle) <= 100
    assert throttle.reserve("one-more", "192.0.2.1").wait > 0  # full of live entries: refused, not grown
    now[0] += 61
    assert throttle.reserve("alice", "192.0.2.1").wait == 0  # expired entries pruned: room again
    assert len(throttle) == 2


def test_right_password_after_the_lock_is_refused_then_accepted_after_the_window(local_site):
    app, store = local_site
    throttle = app.config["KINMATCH_LOGIN_THROTTLE"]
    now = [1000.0]
    throttle.clock = lambda: now[0]
    client = app.test_client()
    for _ in range(throttle.allowed):
        login(client, "rev1", "wrong-guess", status=401)
    login(client, "rev1", status=429)
    now[0] += throttle.window + 1
    login(client, "rev1")


# ---- sessions end on logout, password reset, disabling, and after the lifetime -------------------

def replay(app, cookie: str):
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/")


def session_cookie(client) -> str:
    return client.get_cookie("session").value


@pytest.mark.parametrize("how", ["logout", "password_reset", "disabled"])
def test_a_copied_session_cookie_stops_working(site, how):
    app, store = site
    client = app.test_client()
    token = login(client, "rev1")
    copied = session_cookie(client)
    assert replay(app, copied).status_code == 200  # the copy works while the session lasts
    if how == "logout":
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    elif how == "password_reset":
        store.add_user("rev1", "a-new-password-1", "reviewer")
    else:
        store.set_active("rev1", False)
    response = replay(app, copied)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_session_ends_after_its_lifetime(local_site):
    app, _ = local_site
    client = app.test_client()
    login(client, "rev1")
    cookie = client.get_cookie("session")
    lifetime = cookie.expires.timestamp() - time.time()
    assert abs(lifetime - SESSION_LIFETIME.total_seconds()) < 120
    with client.session_transaction() as session:
        session["since"] = time.time() - SESSION_LIFETIME.total_seconds() - 1
    assert client.get("/").status_code == 302


def test_cookies_are_secure_off_localhost(tmp_path, monkeypatch):
    import waitress

    from kinmatch.review.web import serve

    store = Store(tmp_path / "cases.db")
    store.add_user("rev1", PASSWORD, "reviewer")
    started = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: started.update({kw["host"]: app}))
    for host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "192.168.1.20"):
        serve(store, host=host)
    secure = {host: app.config["SESSION_COOKIE_SECURE"] for host, app in started.items()}
    assert secure == {"127.0.0.1": False, "localhost": False, "::1": False, "0.0.0.0": True, "192.168.1.20": True}
    for host, secure in (("0.0.0.0", True), ("127.0.0.1", False)):
        response = started[host].test_client().get("/login", base_url="https://reviews.example")
        assert ("; Secure" in response.headers["Set-Cookie"]) is secure
    store.close()


# ---- two reviewers on one pair ------------------------------------------------------------------

def test_a_stale_page_does_not_silently_override_a_colleague(site):
    app, store = site
    alice, bob = app.test_client(), app.test_client()
    alice_token, bob_token = login(alice, "rev1"), login(bob, "rev2")
    alice_page = alice.get("/pair/R6/M6").get_data(as_text=True)
    bob_page = bob.get("/pair/R6/M6").get_data(as_text=True)
    assert based_on(alice_page) == based_on(bob_page) == ""
    assert alice.post("/pair/R6/M6/decide", data={"decision": "same", "based_on": based_on(alice_page),
                                                  "csrf_token": alice_token}).status_code == 302
    stale = bob.post("/pair/R6/M6/decide", data={"decision": "not_same", "reason": "性别不符",
                                                 "based_on": based_on(bob_page), "csrf_token": bob_token})
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert 'id="decision-conflict"' in page and "rev1" in page and "同一人" in page
    assert store.candidate("R6", "M6")["decision"] == "same"
    # bob has now seen alice's decision: confirming records his, both stay in the history
    confirmed = bob.post("/pair/R6/M6/decide", data={"decision": "not_same", "reason": "性别不符",
                                                     "based_on": based_on(page), "csrf_token": bob_token})
    assert confirmed.status_code == 302
    assert store.history("R6", "M6")[["reviewer", "decision"]].values.tolist() == [["rev1", "same"],
                                                                                  ["rev2", "not_same"]]


def test_a_decision_without_the_decision_it_was_based_on_is_refused(local_site):
    app, store = local_site
    client = app.test_client()
    token = login(client, "rev1")
    for sent in ({}, {"based_on": "abc"}):
        response = client.post("/pair/R6/M6/decide", data={"decision": "same", "csrf_token": token, **sent})
        assert response.status_code == 400
    assert store.history().empty


# ---- ids, redirects, export, private columns -----------------------------------------------------

SLASHED = [("京2024/001", "沪/2023/17"), ("..", "."), ("a~2Fb", "~"), ("R 1?x#y", "M%2F1\\z")]


@pytest.mark.parametrize("resident_id, missing_id", SLASHED)
def test_ids_with_slashes_and_other_url_characters_can_be_reviewed(local_site, resident_id, missing_id):
    app, store = local_site
    store.load_candidates(candidates_table([(resident_id, missing_id, 0.99)]),
                          RESIDENTS.assign(resident_id=[resident_id] + RESIDENTS["resident_id"].tolist()[1:]),
                          run_id="slashed", levels=None, compute_levels=False)
    client = app.test_client()
    token = login(client, "rev1")
    with app.test_request_context():
        from flask import url_for

        pair = url_for("pairs.pair", resident_id=resident_id, missing_id=missing_id)
        record = url_for("records.record", kind="report", record_id=missing_id)
    response = client.get(pair)
    assert response.status_code == 200, pair
    assert client.get(record).status_code == 200
    assert client.get("/next").headers["Location"] == pair  # the best pair: 0.99
    response = client.post(pair + "/decide", data={"decision": "unsure", "based_on": "", "csrf_token": token})
    assert response.status_code == 302
    assert store.candidate(resident_id, missing_id)["decision"] == "unsure"


def browser_target(location: str, base: str = "https://reviews.example/login") -> str:
    """Where a browser goes for a ``Location`` header (the WHATWG URL rules that matter here)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                                     "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
                                                     "\x1d\x1e\x1f ")
    return urljoin(base, cleaned.replace("\\", "/"))


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil", "/%0A/x", "/\\evil.example", "https://evil",
                                    "/\n/evil", " //evil", "/%09/evil", "javascript:alert(1)", "/\x00/x"])
def test_login_next_accepts_only_local_paths(local_site, target):
    app, _ = local_site
    client = app.test_client()
    response = client.post("/login", query_string={"next": target},
                           data={"username": "rev1", "password": PASSWORD, "csrf_token": token_of(client)})
    assert response.status_code == 302
    assert urlsplit(browser_target(response.headers["Location"])).netloc == "reviews.example"


def test_login_next_keeps_a_local_path(local_site):
    app, _ = local_site
    client = app.test_client()
    response = client.post("/login", query_string={"next": "/pair/R2/M2?order=informative"},
                           data={"username": "rev1", "password": PASSWORD, "csrf_token": token_of(client)})
    assert response.headers["Location"] == "/pair/R2/M2?order=informative"


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("bare") / "cases.db")
    yield create_app(store)
    store.close()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=40),
                 st.lists(st.sampled_from(["/", "\\", "\t", "\n", "\r", " ", "%0A", "%09", "evil.example", ":",
                                           "http", "@", ".", "?", "#", "\x00", "\u3000", "\u200b"]),
                          max_size=8).map("".join)))
def test_property_next_never_leaves_the_site(bare_app, target):
    with bare_app.test_request_context():
        chosen = safe_next(target)
    assert chosen == target or chosen == "/"
    assert urlsplit(browser_target(chosen)).netloc == "reviews.example", chosen


def test_admin_export_which_is_validated(local_site):
    app, store = local_site
    store.decide("R1", "M1", "same", "rev1")
    client = app.test_client()
    login(client, "admin1")
    for which in ("bogus", "same' OR 1=1", "../etc"):
        assert client.get("/admin/export", query_string={"which": which}).status_code == 400
    for which in ("same", "not_same", "unsure", "all"):
        assert client.get("/admin/export", query_string={"which": which}).status_code == 200


def test_record_page_withholds_contact_like_columns(local_site):
    app, store = local_site
    reports = MISSING.assign(报案人手机=["139 1234 5678"] * len(MISSING),
                             家属身份证号=["11010519491231002X"] * len(MISSING),
                             备注=["家属电话：138-0000-1111"] * len(MISSING),
                             联系人="李梅", 登记日期="2023-11-05", 衣服颜色="蓝色")
    store.load_records(missing=reports)
    client = app.test_client()
    login(client, "rev1")
    for path in ("/record/report/M1", "/pair/R1/M1"):
        page = client.get(path).get_data(as_text=True)
        for private in ("139 1234 5678", "11010519491231002X", "138-0000-1111", "13800000001", "李梅",
                        "报案人手机", "家属身份证号"):
            assert private not in page, (path, private)
    page = client.get("/record/report/M1").get_data(as_text=True)
    assert "2023-11-05" in page and "蓝色" in page and "胡春花" in page
    assert re.search(r'id="withheld">另有 (\d+) 项', page).group(1) == "5"  # 4 columns + contact


# ---- property: hostile ids ------------------------------------------------------------------------

HOSTILE_ID = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     min_size=1, max_size=24).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(resident_id=HOSTILE_ID, missing_id=HOSTILE_ID)
def test_property_any_id_can_be_opened_and_decided(hostile_site, resident_id, missing_id):
    app, store, client, token = hostile_site
    if store.candidate(resident_id, missing_id) is not None:
        return  # drawn before: decided already
    store.load_candidates(pd.DataFrame([{"resident_id": resident_id, "missing_id": missing_id,
                                         "match_probability": 0.5}]), run_id="hostile", compute_levels=False)
    with app.test_request_context():
        from flask import url_for

        pair = url_for("pairs.pair", resident_id=resident_id, missing_id=missing_id)
        record = url_for("records.record", kind="resident", record_id=resident_id)
    assert urlsplit(browser_target(pair)).path.startswith("/pair/")
    response = client.get(pair)
    assert response.status_code == 200, (resident_id, missing_id, pair)
    assert client.get(record).status_code == 200
    response = client.post(pair + "/decide", data={"decision": "unsure", "based_on": "", "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert store.candidate(resident_id, missing_id)["decision"] == "unsure"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("hostile") / "cases.db")
    store.add_user("rev1", PASSWORD, "reviewer")
    app = create_app(store)
    client = app.test_client()
    token = login(client, "rev1")
    yield app, store, client, token
    store.close()
