"""The case store on SQLite and a real PostgreSQL server: migrations, loading runs, the queue,
append-only decisions, search by name sound, users, access log, concurrency and crash safety."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading

import pandas as pd
import pytest
from review_fixtures import (  # noqa: F401 - fixtures are used by name
    MISSING,
    PAIRS,
    RESIDENTS,
    candidates_table,
    levels_table,
    loaded_store,
    store,
    store_url,
)

from kinmatch.review.store import Store, StoreError
from kinmatch.review.store import store_url as to_url

HEAD = "0009"  # 0009: a cluster pair keeps which comparisons it read from which member (cluster_evidence)


def test_migrations_run_on_open_and_are_idempotent(store_url):
    first = Store(store_url)
    assert first.revision() == HEAD
    first.close()
    again = Store(store_url)  # a second open must not try to create the tables again
    assert again.revision() == HEAD
    assert again.queue().empty
    again.close()


def test_upgrade_from_an_old_store_keeps_its_decisions(store_url):
    old = Store(store_url, upgrade=False)
    old.upgrade("0001")
    old.load_candidates(candidates_table(), run_id="old", levels=levels_table())
    old.decide("R1", "M1", "same", "alice")
    old.close()
    new = Store(store_url)
    assert new.revision() == HEAD
    assert new.current_decisions()[["missing_id", "decision"]].values.tolist() == [["M1", "same"]]
    new.close()


@pytest.mark.parametrize("statement", [
    "UPDATE decisions SET decision = 'not_same'",
    "DELETE FROM decisions",
    "UPDATE access_log SET username = 'someone else'",
    "DELETE FROM access_log",
])
def test_audit_tables_refuse_update_and_delete(loaded_store, statement):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    loaded_store.decide("R1", "M1", "same", "alice")
    loaded_store.log_access("alice", "view", "resident", "R1")
    with pytest.raises(DatabaseError, match="append-only"):
        with loaded_store.engine.begin() as conn:
            conn.execute(text(statement))
    assert loaded_store.history()["decision"].tolist() == ["same"]
    assert loaded_store.access_log()["username"].tolist() == ["alice"]


BYPASSES = {
    # REPLACE deletes the old row without firing its DELETE trigger (no recursive_triggers)
    "sqlite": ["INSERT OR REPLACE INTO decisions (id, resident_id, missing_id, decision, reviewer, decided_at) "
               "VALUES (1, 'R1', 'M1', 'not_same', 'mallory', '2026-01-01')",
               "REPLACE INTO access_log (id, username, action, at) VALUES (1, 'mallory', 'view', '2026-01-01')",
               "INSERT INTO decisions (id, resident_id, missing_id, decision, reviewer, decided_at) "
               "VALUES (1, 'R1', 'M1', 'not_same', 'mallory', '2026-01-01') "
               "ON CONFLICT (id) DO UPDATE SET decision = excluded.decision"],
    # TRUNCATE fires no row triggers
    "postgresql": ["TRUNCATE decisions", "TRUNCATE access_log", "TRUNCATE decisions, access_log CASCADE",
                   "INSERT INTO decisions (id, resident_id, missing_id, decision, reviewer, decided_at) "
                   "VALUES (1, 'R1', 'M1', 'not_same', 'mallory', now()) "
                   "ON CONFLICT (id) DO UPDATE SET decision = excluded.decision"],
}


def test_audit_tables_refuse_replace_and_truncate(loaded_store):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    loaded_store.decide("R1", "M1", "same", "alice")
    loaded_store.log_access("alice", "view", "resident", "R1")
    statements = BYPASSES[loaded_store.engine.dialect.name]
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"):
            with loaded_store.engine.begin() as conn:
                conn.execute(text(statement))
    assert loaded_store.history()[["decision", "reviewer"]].values.tolist() == [["same", "alice"]]
    assert loaded_store.access_log()["username"].tolist() == ["alice"]


@pytest.mark.parametrize("given, expected", [
    ("cases.db", "sqlite:///"),
    ("postgresql://u@127.0.0.1/db", "postgresql+psycopg://u@127.0.0.1/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
])
def test_store_url(given, expected):
    assert to_url(given).startswith(expected)


def test_queue_highest_probability_first(loaded_store):
    queue = loaded_store.queue()
    assert list(zip(queue["resident_id"], queue["missing_id"], strict=True)) == [(r, m) for r, m, _ in PAIRS]
    assert queue["match_probability"].is_monotonic_decreasing


def test_informative_order_is_closest_to_half(loaded_store):
    queue = loaded_store.queue(order="informative")
    assert list(queue["missing_id"][:3]) == ["M6", "M3", "M4"]  # 0.55, 0.42, 0.30
    distances = (queue["match_probability"] - 0.5).abs()
    assert distances.is_monotonic_increasing


def test_records_keep_raw_fields_and_candidates_their_scores(loaded_store):
    resident = loaded_store.resident("R2")
    assert resident["name"] == "李玮" and resident["alias"] == "小伟" and resident["height"] == "172cm"
    assert loaded_store.report("M2")["hometown"] == "四川省南充市"
    pair = loaded_store.candidate("R2", "M2")
    assert pair["match_probability"] == pytest.approx(0.91)
    assert set(pair["weights"]) >= {"name", "age", "geography"}
    assert pair["levels"] == levels_table().loc[("R2", "M2")].to_dict()
    assert pair["run_id"] == "run1" and pair["decision"] is None


def test_decisions_are_append_only_latest_wins(loaded_store):
    first = loaded_store.decide("R1", "M1", "unsure", "alice")
    second = loaded_store.decide("R1", "M1", "same", "bob", note="送DNA")
    assert second > first
    history = loaded_store.history("R1", "M1")
    assert list(history["decision"]) == ["unsure", "same"]
    assert list(history["reviewer"]) == ["alice", "bob"]
    current = loaded_store.current_decisions().set_index(["resident_id", "missing_id"])
    assert current.loc[("R1", "M1"), "decision"] == "same"
    queue = loaded_store.queue()
    assert ("R1", "M1") not in set(zip(queue["resident_id"], queue["missing_id"], strict=True))


@pytest.mark.parametrize("resident_id, missing_id, decision, reviewer, message", [
    ("R1", "M1", "maybe", "alice", "not one of"),
    ("R1", "M1", "same", "", "reviewer"),
    ("R1", "M9", "same", "alice", "not a stored candidate"),
])
def test_bad_decisions_are_refused(loaded_store, resident_id, missing_id, decision, reviewer, message):
    with pytest.raises(StoreError, match=message):
        loaded_store.decide(resident_id, missing_id, decision, reviewer)
    assert loaded_store.history().empty


def test_rerun_keeps_decisions_and_never_requeues_excluded(loaded_store):
    loaded_store.decide("R2", "M2", "not_same", "alice", reason="DNA排除")
    loaded_store.decide("R1", "M1", "same", "alice")
    # the next run scores the excluded pair higher than anything and proposes a new pair
    rerun = [("R2", "M2", 0.999), ("R1", "M1", 0.98), ("R5", "M5", 0.6), ("R3", "M1", 0.7)]
    counts = loaded_store.load_candidates(candidates_table(rerun), RESIDENTS, MISSING, run_id="run2",
                                          levels=levels_table(rerun))
    assert counts["new_pairs"] == 1 and counts["candidates"] == 4
    queue = loaded_store.queue()
    keys = list(zip(queue["resident_id"], queue["missing_id"], strict=True))
    assert ("R2", "M2") not in keys and ("R1", "M1") not in keys
    assert keys[0] == ("R3", "M1")  # the new pair, 0.7, now leads; R5×M5 moved to 0.6
    assert loaded_store.candidate("R5", "M5")["match_probability"] == pytest.approx(0.6)
    pair = loaded_store.candidate("R2", "M2")
    assert (pair["run_id"], pair["first_run_id"], pair["decision"], pair["reason"]) == \
        ("run2", "run1", "not_same", "DNA排除")
    assert len(loaded_store.history()) == 2


@pytest.mark.parametrize("query, expected", [
    ("吴春花", {("resident", "R1"), ("report", "M1")}),  # 胡/吴 merge (hu → wu)
    ("李伟", {("resident", "R2"), ("report", "M2")}),    # 伟/玮 same sound
    ("春妹", {("report", "M1")}),                        # a report's 小名
    ("芳芳", {("report", "M6")}),
    ("M4", {("report", "M4")}),                           # an id
    ("建国", {("resident", "R5"), ("report", "M5")}),     # part of a name
])
def test_search_by_name_sound(loaded_store, query, expected):
    found = set(zip(loaded_store.search(query)["kind"], loaded_store.search(query)["record_id"], strict=True))
    assert expected <= found
    assert ("resident", "R6") not in found or "芳" in query


def test_search_does_not_match_unrelated_names(loaded_store):
    found = set(loaded_store.search("赵磊")["record_id"])
    assert found == {"M3"}


def test_users_passwords_are_hashed(store):
    store.add_user("alice", "correct horse", "admin")
    assert store.authenticate("alice", "correct horse") == {"username": "alice", "role": "admin", "session_version": 0}
    assert store.authenticate("alice", "wrong password") is None
    assert store.authenticate("nobody", "correct horse") is None
    from sqlalchemy import select

    from kinmatch.review import schema

    with store.engine.connect() as conn:
        stored = conn.execute(select(schema.users.c.password_hash)).scalar()
    assert "correct horse" not in stored
    store.set_active("alice", False)
    assert store.authenticate("alice", "correct horse") is None


@pytest.mark.parametrize("username, password, role, message", [
    ("bob", "short", "reviewer", "8 characters"),
    ("bob", "long enough", "superuser", "role"),
    ("bob smith", "long enough", "reviewer", "user name"),
])
def test_bad_users_are_refused(store, username, password, role, message):
    with pytest.raises(StoreError, match=message):
        store.add_user(username, password, role)


def test_access_log_and_secret_key(store):
    store.log_access("alice", "view", "resident", "R1")
    store.log_access("bob", "view", "report", "M1")
    log = store.access_log()
    assert list(zip(log["username"], log["record_id"], strict=True)) == [("alice", "R1"), ("bob", "M1")]
    assert log["at"].notna().all()
    key = store.secret_key()
    assert len(key) >= 32 and Store(store.url).secret_key() == key


def test_two_reviewers_at_once_are_both_recorded(loaded_store):
    """Two reviewers (separate connections) decide the same pair at the same moment."""
    barrier = threading.Barrier(2)
    errors = []

    def reviewer(name, decision):
        other = Store(loaded_store.url, upgrade=False)
        try:
            barrier.wait()
            other.decide("R6", "M6", decision, name, reason="性别不符" if decision == "not_same" else None)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            other.close()

    threads = [threading.Thread(target=reviewer, args=("alice", "same")),
               threading.Thread(target=reviewer, args=("bob", "not_same"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    history = loaded_store.history("R6", "M6")
    assert sorted(history["reviewer"]) == ["alice", "bob"]
    later = history.iloc[-1]
    assert loaded_store.candidate("R6", "M6")["decision"] == later["decision"]
    assert loaded_store.candidate("R6", "M6")["reviewer"] == later["reviewer"]


CRASHER = textwrap.dedent("""
    import os, signal, sys
    from kinmatch.review.store import Store
    from kinmatch.review import schema
    store = Store(sys.argv[1], upgrade=False)
    store.decide("R1", "M1", "same", "committed-before-crash")
    with store.engine.begin() as conn:
        conn.execute(schema.decisions.insert().values(
            resident_id="R2", missing_id="M2", decision="not_same", reviewer="lost-in-crash",
            decided_at=__import__("datetime").datetime.now()))
        conn.execute(schema.access_log.insert().values(
            username="lost-in-crash", action="view", at=__import__("datetime").datetime.now()))
        print("mid-transaction", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_crash_mid_write_loses_nothing_committed(loaded_store):
    process = subprocess.run([sys.executable, "-c", CRASHER, loaded_store.url], capture_output=True,
                             text=True, timeout=120)
    assert process.returncode == -9, process.stderr
    assert "mid-transaction" in process.stdout
    reopened = Store(loaded_store.url)
    history = reopened.history()
    assert list(history["reviewer"]) == ["committed-before-crash"]
    assert "lost-in-crash" not in set(reopened.access_log()["username"])
    reopened.decide("R2", "M2", "unsure", "after-crash")  # the store still takes writes
    assert len(reopened.history()) == 2
    reopened.close()


def test_candidates_without_records_get_stub_rows(store):
    counts = store.load_candidates(candidates_table([("R9", "M9", 0.5)]), run_id="bare")
    assert counts["stub_records"] == 2
    assert store.queue()["resident_id"].tolist() == ["R9"]
    assert store.resident("R9") == {"resident_id": "R9"}


def test_candidate_table_without_probability_is_refused(store):
    from kinmatch.errors import InputError

    with pytest.raises(InputError, match="match_probability"):
        store.load_candidates(pd.DataFrame({"resident_id": ["R1"], "missing_id": ["M1"]}))


# ---- property: whatever reviewers do and however often runs are reloaded -----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("decide"), st.integers(0, len(PAIRS) - 1), st.sampled_from(["same", "not_same", "unsure"])),
    st.tuples(st.just("reload"), st.lists(st.floats(0.01, 0.99), min_size=len(PAIRS), max_size=len(PAIRS)),
              st.just(None)),
), max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_current_decision_is_the_last_one_and_queue_the_undecided(tmp_path, actions):
    """Reference model: a dict of the last decision per pair. The store must agree with it after
    any mix of decisions and re-runs, and its queue must hold exactly the undecided pairs, sorted."""
    import uuid

    store = Store(tmp_path / f"property-{uuid.uuid4().hex}.db")  # decisions cannot be deleted: a new store
    store.load_candidates(candidates_table(), run_id="start", levels=levels_table())
    last, n_decisions = {}, 0
    for kind, value, decision in actions:
        if kind == "decide":
            resident_id, missing_id, _ = PAIRS[value]
            store.decide(resident_id, missing_id, decision, "rev1", reason="其他" if decision == "not_same" else None)
            last[(resident_id, missing_id)] = decision
            n_decisions += 1
        else:
            rerun = [(r, m, p) for (r, m, _), p in zip(PAIRS, value, strict=True)]
            store.load_candidates(candidates_table(rerun), run_id="rerun")
    current = store.current_decisions()
    pairs = zip(current["resident_id"], current["missing_id"], strict=True)
    assert dict(zip(pairs, current["decision"], strict=True)) == last
    assert len(store.history()) == n_decisions
    queue = store.queue()
    # a resident with a confirmed (同一人) report has no other candidate in the queue
    confirmed = {r for (r, _), d in last.items() if d == "same"}
    open_pairs = {(r, m) for r, m, _ in PAIRS if r not in confirmed}
    assert set(zip(queue["resident_id"], queue["missing_id"], strict=True)) == open_pairs - set(last)
    assert queue["match_probability"].is_monotonic_decreasing
    with_unsure = store.queue(include_unsure=True)
    assert set(zip(with_unsure["resident_id"], with_unsure["missing_id"], strict=True)) == \
        open_pairs - {k for k, d in last.items() if d != "unsure"}
    store.close()


def test_each_pair_keeps_the_model_version_link_wrote(store):
    table = candidates_table()
    table["model_version"] = "kinmatch-0.1.0-abc123def456"
    store.load_candidates(table, RESIDENTS, MISSING, run_id="run-v", compute_levels=False)
    first = table.iloc[0]
    assert store.candidate(first["resident_id"], first["missing_id"])["model_version"] == "kinmatch-0.1.0-abc123def456"
    # a version given for the whole run wins over the rows' own
    store.load_candidates(table, RESIDENTS, MISSING, run_id="run-w", model_version="manual-2", compute_levels=False)
    assert store.candidate(first["resident_id"], first["missing_id"])["model_version"] == "manual-2"


# ---- issue 17: the store side of the review site's hardening ---------------------------------

LOAD_KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[2])
    from review_fixtures import MISSING, RESIDENTS, candidates_table, levels_table
    from kinmatch.review import schema
    from kinmatch.review.store import Store

    store = Store(sys.argv[1], upgrade=False)
    real_upsert = Store._upsert

    def upsert(self, conn, table, rows, keys):
        real_upsert(self, conn, table, rows, keys)
        if table is schema.candidates:  # the records went in just before: die before committing
            print("killed between records and candidates", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    Store._upsert = upsert
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="killed", levels=levels_table())
""")


def test_a_load_killed_half_way_leaves_nothing_loaded(store):
    import pathlib

    process = subprocess.run([sys.executable, "-c", LOAD_KILLER, store.url, str(pathlib.Path(__file__).parent)],
                             capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == -9 and "killed between" in process.stdout, process.stderr
    counts = store.counts()
    assert (counts["residents"], counts["reports"], counts["candidates"]) == (0, 0, 0)


def test_a_decision_based_on_a_stale_view_is_refused(loaded_store):
    from kinmatch.review.store import DecisionConflict

    first = loaded_store.decide("R1", "M1", "same", "alice", based_on=None)
    with pytest.raises(DecisionConflict, match="someone else") as caught:
        loaded_store.decide("R1", "M1", "not_same", "bob", reason="性别不符", based_on=None)
    assert caught.value.current["id"] == first and caught.value.current["decision"] == "same"
    assert loaded_store.history("R1", "M1")["reviewer"].tolist() == ["alice"]
    # bob looked again (now based on alice's decision) and confirms: recorded, alice's kept in the history
    loaded_store.decide("R1", "M1", "not_same", "bob", reason="性别不符", based_on=first)
    assert loaded_store.history("R1", "M1")["decision"].tolist() == ["same", "not_same"]


def test_two_reviewers_on_the_same_view_at_once_one_is_refused(loaded_store):
    from kinmatch.review.store import DecisionConflict

    barrier = threading.Barrier(4)
    outcomes = []

    def reviewer(name, decision):
        other = Store(loaded_store.url, upgrade=False)
        try:
            barrier.wait()
            other.decide("R6", "M6", decision, name, reason="性别不符", based_on=None)
            outcomes.append("recorded")
        except DecisionConflict:
            outcomes.append("conflict")
        finally:
            other.close()

    threads = [threading.Thread(target=reviewer, args=(f"rev{i}", "same" if i % 2 else "not_same"))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["conflict"] * 3 + ["recorded"]
    assert len(loaded_store.history("R6", "M6")) == 1


def test_password_reset_logout_and_disabling_raise_the_session_version(store):
    store.add_user("alice", "correct horse", "admin")
    versions = [store.user("alice")["session_version"]]
    store.add_user("alice", "battery staple", "admin")  # reset
    versions.append(store.user("alice")["session_version"])
    store.end_sessions("alice")
    versions.append(store.user("alice")["session_version"])
    store.set_active("alice", False)
    versions.append(store.user("alice")["session_version"])
    assert versions == [0, 1, 2, 3]
    assert store.authenticate("alice", "correct horse") is None


def test_unknown_users_cost_one_password_hash_too(store, monkeypatch):
    import werkzeug.security

    store.add_user("alice", "correct horse", "reviewer")
    checked = []
    real = werkzeug.security.check_password_hash
    monkeypatch.setattr(werkzeug.security, "check_password_hash",
                        lambda stored, password: checked.append(stored.split("$")[0]) or real(stored, password))
    for username in ("alice", "nobody", "x" * 100_000):
        assert store.authenticate(username, "wrong password") is None
    assert len(checked) == 3 and len(set(checked)) == 1  # same method and cost for all three


def test_refusal_time_does_not_reveal_which_user_names_exist(store):
    import statistics
    import time

    store.add_user("alice", "correct horse", "reviewer")
    store.authenticate("nobody", "warm up")  # the dummy hash is made once, on first use

    def seconds(username):
        start = time.perf_counter()
        store.authenticate(username, "wrong password")
        return time.perf_counter() - start

    # interleaved, so a change in the machine's load affects both alike
    times = [(seconds("alice"), seconds("nobody")) for _ in range(7)]
    known, unknown = (statistics.median(column) for column in zip(*times, strict=True))
    # without the dummy hash an unknown name was refused ~100x faster than a known one
    assert 0.5 < unknown / known < 2, (known, unknown)


def test_access_log_fields_are_capped(store):
    store.log_access("x" * (1 << 20), "login_failed" * 10, detail="d" * (1 << 20), record_id="r" * 1000)
    row = store.access_log().iloc[0]
    assert len(row["username"]) == 128 and row["username"].endswith("…")
    assert len(row["action"]) == 32 and len(row["detail"]) == 1000 and len(row["record_id"]) == 128


@pytest.mark.parametrize("statement", [
    "UPDATE case_events SET event = 'reunited'",
    "DELETE FROM case_events",
    "INSERT INTO case_events (id, resident_id, event, event_date, recorded_by, recorded_at) "
    "VALUES (1, 'R1', 'reunited', '2026-01-01', 'mallory', '2026-01-01') "
    "ON CONFLICT (id) DO UPDATE SET event = excluded.event",
])
def test_case_events_are_append_only(loaded_store, statement):
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    loaded_store.add_event("R1", "dna_requested", "alice", missing_id="M1", event_date=dt.date(2026, 1, 5),
                           detail={"lab": "市公安局"})
    with pytest.raises(DatabaseError, match="append-only"):
        with loaded_store.engine.begin() as conn:
            conn.execute(text(statement))
    events = loaded_store.events("R1")
    assert events["event"].tolist() == ["dna_requested"]
    assert events["detail"].iloc[0] == {"lab": "市公安局"}
    assert events["event_date"].iloc[0].date() == dt.date(2026, 1, 5)


def test_unknown_case_events_are_refused(loaded_store):
    with pytest.raises(StoreError, match="unknown case event"):
        loaded_store.add_event("R1", "teleported", "alice")


def test_a_decision_keeps_the_score_the_reviewer_saw(loaded_store):
    """A later run re-scores the pair; the export and the letter carry what the decision was taken on."""
    from kinmatch.review.export import export_decisions

    before = loaded_store.candidate("R1", "M1")
    loaded_store.decide("R1", "M1", "same", "alice")
    rescored = candidates_table()
    rescored.loc[(rescored["resident_id"] == "R1") & (rescored["missing_id"] == "M1"),
                 ["match_probability", "explanation"]] = [0.123, "重新比对后的说明"]
    loaded_store.load_candidates(rescored, run_id="later")
    now = loaded_store.candidate("R1", "M1")
    assert now["match_probability"] == pytest.approx(0.123)  # the pair's current score moved on
    assert now["seen_probability"] == pytest.approx(before["match_probability"])
    assert now["seen_explanation"] == before["explanation"] and now["seen_run_id"] == before["run_id"]
    row = export_decisions(loaded_store).set_index(["resident_id", "missing_id"]).loc[("R1", "M1")]
    assert row["match_probability"] == pytest.approx(before["match_probability"])
    assert row["explanation"] == before["explanation"] and row["run_id"] == before["run_id"]
