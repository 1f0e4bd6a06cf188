"""Shared fixtures for the review tests: a few synthetic residents and reports (no real people),
a candidate table in the SCHEMA.md linking format, and stores on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid

import numpy as np
import pandas as pd
import pytest

from kinmatch.match.settings import default_comparisons

COMPARISONS = [c.name for c in default_comparisons()]
N_LEVELS = {c.name: c.n_levels for c in default_comparisons()}

PG_ENV = "KINMATCH_TEST_PG_URL"

RESIDENTS = pd.DataFrame([
    # resident_id, name, alias, sex, age, height, found_date, found_place, accent, description, photo
    ("R1", "吴春花", None, "女", "约60岁", "155cm", "2023-11-05", "安徽省黄山市屯溪区", "安徽口音", "左脸有痣", None),
    ("R2", "李玮", "小伟", "男", "40多岁", "172cm", "2022/3/1", "浙江省杭州市", "四川口音", "右臂纹身", None),
    ("R3", "<script>alert('x')</script>", None, "男", "约30岁", None, "2024年1月2日", "广州市", None, None, None),
    ("R4", "站内代名党新", None, "男", "五六十岁", "168cm", "2021.5", "郑州市", "河南话", "缺左手小指", None),
    ("R5", "张建国", None, "男", "约70岁", "165cm", "2020", "成都市", "四川口音", None, "https://example.org/p/R5.jpg"),
    ("R6", "王芳", None, "女", "约25岁", "160cm", "2023-07-09", "西安市", "陕西口音", None, None),
], columns=["resident_id", "name", "alias", "sex", "age", "height", "found_date", "found_place", "accent",
            "description", "photo"])

MISSING = pd.DataFrame([
    ("M1", "胡春花", "春妹", "女", "1963", "155", "2023-10-20", "安徽省黄山市", "安徽省黄山市歙县", "脸上有痣",
     "13800000001"),
    ("M2", "李伟", None, "男", "1982", "170", "2021-12-30", "杭州", "四川省南充市", "右臂纹身", "13800000002"),
    ("M3", "赵磊", None, "男", "1994", "175", "2023-12-25", "广州", "湖南省衡阳市", None, "13800000003"),
    ("M4", "党建设", None, "男", "1965", "168", "2021-04-01", "郑州", "河南省周口市", "左手小指缺", "13800000004"),
    ("M5", "张建国", None, "男", "1952", "165", "2019-12-01", "成都", "四川省成都市", None, "13800000005"),
    ("M6", "王小芳", "芳芳", "女", "1998", "160", "2023-06-30", "西安", "陕西省西安市", None, "13800000006"),
], columns=["missing_id", "name", "alias", "sex", "birth_date", "height", "missing_date", "missing_place",
            "hometown", "description", "contact"])

# resident, report, probability: distinct values so every ordering is unambiguous
PAIRS = [("R1", "M1", 0.97), ("R2", "M2", 0.91), ("R5", "M5", 0.83), ("R6", "M6", 0.55),
         ("R3", "M3", 0.42), ("R4", "M4", 0.30), ("R2", "M6", 0.08)]


def candidates_table(pairs=PAIRS) -> pd.DataFrame:
    """A linking table as ``kinmatch.link`` returns it (weights chosen to sum to the weight)."""
    rows = []
    rng = np.random.default_rng(7)
    for resident_id, missing_id, probability in pairs:
        weight = float(np.log2(probability / (1 - probability)))
        parts = rng.normal(0, 1, len(COMPARISONS))
        parts = parts - parts.mean() + weight / len(COMPARISONS)
        rows.append({"resident_id": resident_id, "missing_id": missing_id, "rank": 1,
                     "match_probability": probability, "match_weight": weight,
                     "explanation": f"姓名同音 +{max(weight, 0):.1f}; 年龄相符 +2.0",
                     **{f"w_{c}": float(v) for c, v in zip(COMPARISONS, parts, strict=True)}})
    return pd.DataFrame(rows)


def levels_table(pairs=PAIRS, seed: int = 3) -> pd.DataFrame:
    """Comparison levels for the pairs (as ``run_link(...).vectors``): higher for likelier pairs."""
    rng = np.random.default_rng(seed)
    rows = {}
    for resident_id, missing_id, probability in pairs:
        rows[(resident_id, missing_id)] = {
            c: int(np.clip(round(probability * (N_LEVELS[c] - 1) + rng.normal(0, .4)), 0, N_LEVELS[c] - 1))
            for c in COMPARISONS}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["resident_id", "missing_id"])
    return frame


def pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {PG_ENV} is not: .ci/services.sh did not start PostgreSQL "
                        f"(see its warning at the top of the CI log)")
        pytest.skip(f"{PG_ENV} is not set: source .ci/services.sh to start a throwaway PostgreSQL server")
    return url


def fresh_store_url(backend: str, tmp_path) -> tuple[str, callable]:
    """``(url, cleanup)`` of an empty store: a new SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "cases.db"), (lambda: None)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = pg_admin_url()
    name = "kt_" + uuid.uuid4().hex[:12]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def cleanup():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, cleanup


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path):
    url, cleanup = fresh_store_url(request.param, tmp_path)
    yield url
    cleanup()


@pytest.fixture
def store(store_url):
    from kinmatch.review.store import Store

    opened = Store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def loaded_store(store):
    store.load_candidates(candidates_table(), RESIDENTS, MISSING, run_id="run1", levels=levels_table())
    return store


# --- the browser tests' shared pieces ------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def need_chromium():
    """Skip the test without Chromium; under CI its absence is a failure."""
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {CHROMIUM} is missing: .ci/services.sh should have installed it (apt chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests need it")


@contextlib.contextmanager
def serving(app, store):
    """The review site ``app`` on a free local port: yields (its URL, ``store``); closes the store after."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)  # port 0: a free port
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", store
    finally:
        httpd.shutdown()
        store.close()
