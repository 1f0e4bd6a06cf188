"""Referral bundles: written at a station, checked, and loaded at the studio with exclusions kept."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pandas as pd
import pytest
from review_fixtures import BACKENDS, MISSING, RESIDENTS, candidates_table, fresh_store_url

from kinmatch.cli import main
from kinmatch.pfif import read_pfif
from kinmatch.review.referral import BundleError, import_bundle, read_bundle, safe_member_name, write_bundle
from kinmatch.review.store import Store

PAIRS = [("R1", "M1", 0.97), ("R1", "M6", 0.40), ("R1", "M3", 0.20), ("R2", "M2", 0.91), ("R2", "M6", 0.08),
         ("R5", "M5", 0.83)]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def station(tmp_path):
    residents = RESIDENTS.copy()
    residents["station"] = "黄山市救助管理站"
    residents.loc[0, "name"] = "=HYPERLINK(\"http://x\",\"吴春花\")"
    residents.loc[0, "photo"] = "R1.jpg"
    residents.loc[1, "photo"] = "../secret.jpg"
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "R1.jpg").write_bytes(b"\xff\xd8 fake jpeg R1")
    (tmp_path / "secret.jpg").write_bytes(b"not for the bundle")
    store = Store(tmp_path / "studio.sqlite")
    store.load_candidates(candidates_table(PAIRS), residents, MISSING, run_id="run1", compute_levels=False)
    store.decide("R1", "M6", "not_same", "alice", reason="性别不符", note="家属说明不符")
    store.decide("R1", "M3", "unsure", "alice")
    store.decide("R1", "M3", "not_same", "bob", reason="年龄不可能")
    store.decide("R2", "M6", "not_same", "alice", reason="其他")
    store.decide("R2", "M6", "unsure", "bob")  # no longer excluded: must not travel as an exclusion
    store.add_event("R1", "comment", "alice", detail={"text": "自述家在歙县，口音重"})
    yield store, photos
    store.close()


def test_a_bundle_round_trips_between_two_stores_with_exclusions_kept(station, tmp_path, backend):
    store, photos = station
    bundle = tmp_path / "转交.zip"
    manifest = write_bundle(store, ["R1", "R2"], bundle, recorded_by="clerk", photo_dir=photos)
    assert manifest["counts"] == {"residents": 2, "reports": 4, "candidates": 5, "exclusions": 2, "photos": 1}
    assert [s["photo"] for s in manifest["photos_skipped"]] == ["../secret.jpg"]
    sent = store.events()
    assert sorted(sent.loc[sent["event"] == "referred", "resident_id"]) == ["R1", "R2"]

    province_photos = tmp_path / "province_photos"
    province_photos.mkdir()
    url, cleanup = fresh_store_url(backend, tmp_path)  # the studio's store: SQLite or PostgreSQL
    with Store(url) as province:
        counts = import_bundle(province, bundle, recorded_by="studio", photo_dir=province_photos)
        assert counts["exclusions"] == 2 and counts["candidates"] == 5 and counts["comments"] == 1
        current = province.current_decisions().set_index(["resident_id", "missing_id"])
        assert set(current.index) == {("R1", "M6"), ("R1", "M3")}
        assert (current["decision"] == "not_same").all()
        assert (current["reviewer"] == "转交:黄山市救助管理站").all()
        assert current.loc[("R1", "M6"), "reason"] == "性别不符"
        assert "alice" in current.loc[("R1", "M6"), "note"] and "家属说明不符" in current.loc[("R1", "M6"), "note"]
        assert "bob" in current.loc[("R1", "M3"), "note"]
        # nothing excluded is queued again; undecided pairs and the station's 不确定 ones are
        queued = set(zip(province.queue()["resident_id"], province.queue()["missing_id"], strict=True))
        assert queued == {("R1", "M1"), ("R2", "M2"), ("R2", "M6")}
        assert province.resident("R1")["name"].startswith("=HYPERLINK")
        assert province.report("M1").get("contact") is None  # the family's contact never travels
        events = province.events("R1")
        comment = events[events["event"] == "comment"].iloc[0]
        assert comment["detail"]["text"] == "自述家在歙县，口音重" and comment["detail"]["original_by"] == "alice"
        assert (province_photos / "R1.jpg").read_bytes() == b"\xff\xd8 fake jpeg R1"
        with pytest.raises(BundleError, match="已经导入过"):
            import_bundle(province, bundle, recorded_by="studio")
    cleanup()


def test_import_keeps_the_studios_own_reports_and_decisions(station, tmp_path):
    store, photos = station
    bundle = tmp_path / "b.zip"
    write_bundle(store, ["R1"], bundle, recorded_by="clerk")
    with Store(tmp_path / "province.sqlite") as province:
        province.load_candidates(candidates_table([("R1", "M6", 0.5)]), RESIDENTS, MISSING, compute_levels=False)
        province.decide("R1", "M6", "same", "carol")
        counts = import_bundle(province, bundle, recorded_by="studio")
        assert counts["conflicts"] == [("R1", "M6", "same")]
        assert province.candidate("R1", "M6")["decision"] == "same"
        assert province.report("M6")["contact"] == "13800000006"  # the studio's copy is not replaced


def test_the_workbook_has_chinese_headers_and_text_cells(station, tmp_path):
    from openpyxl import load_workbook

    store, photos = station
    bundle = tmp_path / "b.zip"
    write_bundle(store, ["R1"], bundle, recorded_by="clerk", photo_dir=photos)
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        workbook = load_workbook(archive.open("受助人员.xlsx"))
        pfif = archive.read("pfif.xml")
    assert {"manifest.json", "records.json", "notes.json", "pfif.xml", "受助人员.xlsx", "photos/R1.jpg"} <= names
    assert workbook.sheetnames == ["受助人员", "候选比对", "已排除", "站内记录"]
    sheet = workbook["受助人员"]
    headers = [c.value for c in sheet[1]]
    assert {"编号", "姓名", "性别", "入站日期", "救助站"} <= set(headers)
    name = sheet.cell(row=2, column=headers.index("姓名") + 1)
    assert name.data_type == "s" and name.value.startswith("=HYPERLINK")  # text, never a formula
    excluded = [[c.value for c in row] for row in workbook["已排除"].iter_rows(min_row=2)]
    assert sorted((r[1], r[2]) for r in excluded) == [("M3", "年龄不可能"), ("M6", "性别不符")]
    imported = read_pfif(pfif)  # residents are not read back as reports (issue 16): the issues name them
    residents = imported.issues.loc[imported.issues["reason"] == "resident_record", "record_id"].tolist()
    reports = imported.frame["pfif_person_record_id"].tolist()
    assert [p.rsplit("/", 1)[1] for p in residents] == ["resident.R1"]
    assert any(p.endswith("/missing.M1") for p in reports)


def _rewrite(bundle, target, change):
    """Copy ``bundle`` to ``target`` with ``change(name, data, manifest)`` applied to each member."""
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(target, "w") as out:
        manifest = json.loads(source.read("manifest.json"))
        members = {n: source.read(n) for n in source.namelist() if n != "manifest.json"}
        members = change(members, manifest)
        out.writestr("manifest.json", json.dumps(manifest))
        for name, data in members.items():
            out.writestr(name, data)


def _tampered(members, manifest):
    members["records.json"] = members["records.json"].replace("性别不符".encode(), "其他原因".encode())
    return members


def _slipped(members, manifest):
    data = b"evil"
    members["photos/../../evil.txt"] = data
    manifest["files"]["photos/../../evil.txt"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return members


def _extra(members, manifest):
    members["photos/extra.jpg"] = b"unlisted"
    return members


@pytest.mark.parametrize("change, message", [
    (_tampered, "校验值不符"), (_slipped, "不安全的路径"), (_extra, "与清单不符")])
def test_a_changed_or_escaping_bundle_is_refused_before_anything_is_written(station, tmp_path, change, message):
    store, photos = station
    bundle = tmp_path / "b.zip"
    write_bundle(store, ["R1"], bundle, recorded_by="clerk", photo_dir=photos)
    bad = tmp_path / "bad.zip"
    _rewrite(bundle, bad, change)
    with pytest.raises(BundleError, match=message):
        read_bundle(bad)
    with Store(tmp_path / "province.sqlite") as province:
        with pytest.raises(BundleError):
            import_bundle(province, bad, recorded_by="studio", photo_dir=tmp_path / "p")
        assert province.counts()["residents"] == 0
    assert not (tmp_path / "evil.txt").exists()


def test_the_cli_writes_and_imports_a_bundle(station, tmp_path, capsys):
    store, photos = station
    bundle = tmp_path / "转交.zip"
    assert main(["refer", "--db", str(tmp_path / "studio.sqlite"), "R1", "-o", str(bundle), "--by", "clerk"]) == 0
    assert "照片" in capsys.readouterr().out  # the photo left out for want of --photos is reported
    assert main(["refer", "import", str(bundle), "--db", str(tmp_path / "province.sqlite")]) == 0
    assert "2 条排除结论" in capsys.readouterr().out
    assert main(["refer", "--db", str(tmp_path / "studio.sqlite"), "R404", "-o", str(bundle)]) == 2
    assert "没有受助人员 R404" in capsys.readouterr().err
    with Store(tmp_path / "province.sqlite") as province:
        assert len(province.current_decisions()) == 2
        assert isinstance(province.events(), pd.DataFrame)


@pytest.mark.parametrize("name, safe", [
    ("photos/R1.jpg", True), ("photos/站内/R1.jpg", True), ("records.json", True),
    ("../x", False), ("photos/../../x", False), ("/etc/passwd", False), ("C:/x", False), ("photos\\..\\x", False),
    ("photos//x", False), ("./x", False), ("", False),
])
def test_member_names_that_could_leave_the_folder_are_unsafe(name, safe):
    assert safe_member_name(name) is safe
