"""The review site through Flask's test client: login, roles, CSRF, escaping, access log,
decisions by form, export, photos, and the CLI around the store."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from review_fixtures import MISSING, RESIDENTS, candidates_table, levels_table

from kinmatch.review.store import Store
from kinmatch.review.web import create_app

PASSWORD = "reviewer-pass-1"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """One loaded store with two users, copied for each test (password hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("template") / "cases.db"
    store = Store(path)
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="run1", levels=levels_table())
    store.add_user("admin1", PASSWORD, "admin")
    store.add_user("rev1", PASSWORD, "reviewer")
    store.close()  # the last connection closing folds the WAL into the file, so one file is the store
    return path


@pytest.fixture
def site(tmp_path, template_db):
    shutil.copy(template_db, tmp_path / "cases.db")
    store = Store(tmp_path / "cases.db")
    photos = tmp_path / "photos"
    photos.mkdir()
    app = create_app(store, photo_dir=photos)
    app.config["TESTING"] = True
    yield app, store, photos
    store.close()


def token_of(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username) -> str:
    token = token_of(client)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return token_of(client, "/")


@pytest.mark.parametrize("method, path", [
    ("get", "/"), ("get", "/next"), ("get", "/pair/R1/M1"), ("get", "/record/resident/R1"),
    ("get", "/search?q=李伟"), ("get", "/admin/users"), ("get", "/admin/export"), ("get", "/photo/R1"),
    ("post", "/pair/R1/M1/decide"), ("post", "/admin/users"),
])
def test_unauthenticated_requests_get_the_login_page(site, method, path):
    app, store, _ = site
    response = getattr(app.test_client(), method)(path, data={"decision": "same"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert store.history().empty and store.access_log().empty


def test_wrong_password_is_refused(site):
    app, _, _ = site
    client = app.test_client()
    response = client.post("/login", data={"username": "rev1", "password": "nope-nope", "csrf_token": token_of(client)})
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_next_is_not_an_open_redirect(site):
    app, _, _ = site
    client = app.test_client()
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "rev1", "password": PASSWORD, "csrf_token": token_of(client)})
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("method, path, data", [
    ("get", "/admin/users", None),
    ("get", "/admin/log", None),
    ("get", "/admin/export", None),
    ("post", "/admin/users", {"username": "mallory", "password": "12345678", "role": "admin"}),
    ("post", "/admin/users/admin1/active", {"active": "0"}),
])
def test_reviewer_cannot_reach_admin_actions(site, method, path, data):
    app, store, _ = site
    client = app.test_client()
    token = login(client, "rev1")
    response = getattr(client, method)(path, data={**(data or {}), "csrf_token": token})
    assert response.status_code == 403
    assert store.user("mallory") is None and store.user("admin1")["active"]


def test_admin_reaches_admin_pages_and_adds_users(site):
    app, store, _ = site
    client = app.test_client()
    token = login(client, "admin1")
    assert client.get("/admin/users").status_code == 200
    response = client.post("/admin/users", data={"username": "rev2", "password": "another-pass", "role": "reviewer",
                                                 "csrf_token": token})
    assert response.status_code == 302 and store.authenticate("rev2", "another-pass")["role"] == "reviewer"


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_post_without_valid_csrf_token_is_rejected(site, token):
    app, store, _ = site
    client = app.test_client()
    login(client, "rev1")
    data = {"decision": "same"} | ({"csrf_token": token} if token else {})
    response = client.post("/pair/R1/M1/decide", data=data)
    assert response.status_code == 400
    assert store.history().empty


def test_script_in_a_name_renders_inert(site):
    app, _, _ = site
    client = app.test_client()
    login(client, "rev1")
    for path in ("/pair/R3/M3", "/record/resident/R3", "/search?q=script", "/"):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert "<script>alert" not in page, path
        assert "&lt;script&gt;alert(" in page, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_pair_page_shows_both_records_highlights_and_chart(site):
    app, store, _ = site
    client = app.test_client()
    login(client, "rev1")
    page = client.get("/pair/R1/M1").get_data(as_text=True)
    assert "吴春花" in page and "胡春花" in page and "安徽省黄山市歙县" in page
    assert "13800000001" not in page  # the family's contact is private
    candidate = store.candidate("R1", "M1")
    weights, levels = candidate["weights"], candidate["levels"]
    sex_row = re.search(r'<tr class="(\w*)"><th[^>]*>性别', page).group(1)
    # the row's mark follows the comparison's level: 相符 from agree_from on, 矛盾 only at level 0
    assert sex_row == ("agree" if levels["sex"] >= 1 else "conflict" if levels["sex"] == 0 else "")
    assert page.count('class="bar-row"') == len(weights)
    assert 'class="bar neg"' in page and 'class="bar pos"' in page


def test_every_record_view_is_logged(site):
    app, store, _ = site
    client = app.test_client()
    login(client, "rev1")
    client.get("/pair/R2/M2")
    client.get("/record/report/M5")
    client.get("/search?q=李伟")
    log = store.access_log("rev1")
    views = list(zip(log["action"], log["record_kind"].fillna(""), log["record_id"].fillna(""), strict=True))
    assert views == [("login", "", ""), ("view_queue", "", ""), ("view", "resident", "R2"), ("view", "report", "M2"),
                     ("view", "report", "M5"), ("search", "", "")]
    assert log["at"].is_monotonic_increasing


def test_deciding_moves_to_the_next_pair_and_not_same_needs_a_reason(site):
    app, store, _ = site
    client = app.test_client()
    token = login(client, "rev1")
    response = client.post("/pair/R1/M1/decide", data={"decision": "same", "csrf_token": token, "based_on": ""})
    assert response.headers["Location"] == "/pair/R2/M2"
    response = client.post("/pair/R2/M2/decide", data={"decision": "not_same", "csrf_token": token, "based_on": ""})
    assert response.headers["Location"] == "/pair/R2/M2"  # back: a reason is required
    response = client.post("/pair/R2/M2/decide", data={"decision": "not_same", "reason": "年龄不可能",
                                                       "csrf_token": token, "based_on": ""})
    assert response.headers["Location"] == "/pair/R5/M5"
    current = store.current_decisions()
    assert list(zip(current["missing_id"], current["decision"], current["reason"].fillna(""), strict=True)) == \
        [("M1", "same", ""), ("M2", "not_same", "年龄不可能")]
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'id="queue-count">(\d+)<', page).group(1) == "5"


def test_pair_page_lists_the_residents_other_candidates(site):
    app, store, _ = site
    store.decide("R2", "M6", "same", "admin1")
    client = app.test_client()
    login(client, "rev1")
    page = client.get("/pair/R2/M2").get_data(as_text=True)
    others = page.split('id="other-candidates"')[1].split("</table>")[0]
    assert 'class="confirmed"' in others and ">M6<" in others and ">M2<" not in others


def test_later_decision_wins_visibly(site):
    app, store, _ = site
    store.decide("R6", "M6", "same", "admin1")
    store.decide("R6", "M6", "not_same", "rev1", reason="性别不符")
    client = app.test_client()
    login(client, "rev1")
    page = client.get("/pair/R6/M6").get_data(as_text=True)
    assert re.search(r'id="current-decision">([^<]+)<', page).group(1) == "非同一人"
    assert page.count("<td>admin1</td>") == 1 and page.count("<td>rev1</td>") == 1  # both in the history


def test_admin_export_csv(site):
    app, store, _ = site
    store.decide("R1", "M1", "same", "rev1")
    store.decide("R2", "M2", "not_same", "rev1", reason="DNA排除")
    client = app.test_client()
    login(client, "admin1")
    response = client.get("/admin/export")
    assert response.status_code == 200
    from io import StringIO

    frame = pd.read_csv(StringIO(response.get_data().decode("utf-8-sig")))
    assert frame[["resident_id", "missing_id", "decision"]].values.tolist() == [["R1", "M1", "same"]]


@pytest.mark.parametrize("note", ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_admin_export_escapes_formulas_reviewers_typed(site, note):
    from io import StringIO

    app, store, _ = site
    store.decide("R1", "M1", "same", "rev1", note=note)
    client = app.test_client()
    login(client, "admin1")
    text = client.get("/admin/export").get_data().decode("utf-8-sig")
    cells = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)["note"].tolist()
    assert cells == ["'" + note]  # Excel shows the text; it never evaluates it


def test_photos_only_from_the_photo_folder(site, tmp_path):
    app, store, photos = site
    (photos / "r1.jpg").write_bytes(b"\xff\xd8\xff\xe0 fake jpeg")
    (tmp_path / "secret.jpg").write_bytes(b"outside")
    client = app.test_client()
    login(client, "rev1")
    for photo, status in [("r1.jpg", 200), ("../secret.jpg", 404), (str(tmp_path / "secret.jpg"), 404),
                          ("r1.txt", 404)]:
        store.load_records(RESIDENTS.assign(photo=[photo] + RESIDENTS["photo"].tolist()[1:]))
        assert client.get("/photo/R1").status_code == status, photo
    page = client.get("/pair/R5/M5").get_data(as_text=True)
    assert 'href="https://example.org/p/R5.jpg"' in page and '<img class="photo"' not in page  # a link, never fetched


def test_cli_load_adduser_export(tmp_path, monkeypatch):
    from kinmatch.cli import main

    db = tmp_path / "cli.db"
    candidates = tmp_path / "candidates.csv"
    candidates_table().to_csv(candidates, index=False, encoding="utf-8-sig")
    residents, missing = tmp_path / "residents.csv", tmp_path / "missing.csv"
    RESIDENTS.rename(columns={"resident_id": "编号", "name": "姓名"}).to_csv(residents, index=False)
    MISSING.to_csv(missing, index=False)
    assert main(["review", "load", "--db", str(db), str(candidates), str(residents), str(missing),
                 "--run-id", "cli-run"]) == 0
    monkeypatch.setenv("KINMATCH_PASSWORD", "from-the-env-1")
    assert main(["review", "adduser", "--db", str(db), "--role", "admin", "boss"]) == 0
    monkeypatch.delenv("KINMATCH_PASSWORD")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["review", "adduser", "--db", str(db), "someone"]) == 2  # no password source: refused
    store = Store(db)
    assert store.authenticate("boss", "from-the-env-1")["role"] == "admin" and store.user("someone") is None
    assert store.resident("R1")["name"] == "吴春花" and store.candidate("R1", "M1")["levels"] is not None
    store.decide("R1", "M1", "same", "boss")
    out = tmp_path / "reviewed.csv"
    assert main(["review", "export", "--db", str(db), "-o", str(out)]) == 0
    assert pd.read_csv(out, encoding="utf-8-sig")["missing_id"].tolist() == ["M1"]


def test_password_guessing_locks_the_account_for_a_while(site):
    app, store, _ = site
    throttle = app.config["KINMATCH_LOGIN_THROTTLE"]
    now = [1000.0]
    throttle.clock = lambda: now[0]
    client = app.test_client()
    token = token_of(client)
    for _ in range(throttle.allowed):
        wrong = client.post("/login", data={"username": "rev1", "password": "guess", "csrf_token": token})
        assert wrong.status_code == 401
    # locked: even the right password is refused, without being checked, and it is logged
    locked = client.post("/login", data={"username": "rev1", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 429 and "锁定" in locked.get_data(as_text=True)
    log = store.access_log("rev1")
    assert (log["action"] == "login_failed").sum() == throttle.allowed
    assert (log["action"] == "login_locked").sum() == 1
    # another account is not affected
    assert client.post("/login", data={"username": "admin1", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    # after the window the account may log in again, and a success clears its failures
    now[0] += throttle.window + 1
    other = app.test_client()
    assert other.post("/login", data={"username": "rev1", "password": PASSWORD,
                                      "csrf_token": token_of(other)}).status_code == 302
    assert throttle.locked_for("rev1") == 0
