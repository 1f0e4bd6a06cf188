"""The match-lead letter: refused without a second reviewer, PDF and Markdown with the right content."""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest
from review_fixtures import MISSING, RESIDENTS, candidates_table

from kinmatch.cli import main
from kinmatch.review.letters import LetterRefused, lead_letter, letter_markdown, write_letter
from kinmatch.review.store import Store

ID_NUMBER = "110101196301071234"


@pytest.fixture
def store(tmp_path):
    residents = RESIDENTS.copy()
    residents.loc[0, "statements"] = f"说自己身份证号{ID_NUMBER}，家住歙县"
    residents["station"] = "黄山市救助管理站"
    opened = Store(tmp_path / "studio.sqlite")
    opened.load_candidates(candidates_table(), residents, MISSING, run_id="run1", compute_levels=False)
    opened.decide("R1", "M1", "same", "alice")
    yield opened
    opened.close()


def _pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("events, message", [
    ([], "还没有二次确认"),  # deciding 同一人 records the confirmed event itself
    ([("confirmed", "alice")], "还没有二次确认"),
    ([("confirmed", "alice"), ("second_confirmed", "alice")], "alice 本人"),
    ([("second_confirmed", "bob"), ("confirmed", "alice")], "还没有二次确认"),  # second before first
    ([("confirmed", "alice"), ("second_confirmed", "bob"), ("dna_no_match", "carol")], "DNA 比对排除"),
])
def test_a_letter_needs_a_second_reviewer_with_another_account(store, tmp_path, events, message):
    for event, who in events:
        store.add_event("R1", event, who, missing_id="M1")
    with pytest.raises(LetterRefused, match=message):
        write_letter(store, "R1", "M1", [tmp_path / "letter.pdf"], recorded_by="clerk")
    assert not (tmp_path / "letter.pdf").exists()
    assert "letter_sent" not in set(store.events("R1")["event"])


def test_an_unconfirmed_pair_has_no_letter(store, tmp_path):
    with pytest.raises(LetterRefused, match="尚未确认"):
        write_letter(store, "R2", "M2", [tmp_path / "letter.pdf"], recorded_by="clerk")


def test_a_revoked_confirmation_refuses_the_letter(store):
    store.add_event("R1", "confirmed", "alice", missing_id="M1")
    store.add_event("R1", "second_confirmed", "bob", missing_id="M1")
    store.decide("R1", "M1", "not_same", "bob", reason="DNA排除")
    with pytest.raises(LetterRefused, match="确认已失效"):
        lead_letter(store, "R1", "M1")


def test_confirmation_of_another_pair_does_not_count(store):
    store.add_event("R1", "confirmed", "alice", missing_id="M1")
    store.add_event("R2", "second_confirmed", "bob", missing_id="M2")
    store.add_event("R1", "second_confirmed", "bob", missing_id="M9")
    with pytest.raises(LetterRefused):
        lead_letter(store, "R1", "M1")


def test_the_letter_pdf_and_markdown_carry_both_records_reviewers_and_no_private_numbers(store, tmp_path):
    store.add_event("R1", "confirmed", "alice", missing_id="M1", event_date=pd.Timestamp("2024-01-03 09:00Z"))
    store.add_event("R1", "second_confirmed", "bob", missing_id="M1", event_date=pd.Timestamp("2024-01-04 20:00Z"))
    pdf, md = tmp_path / "letter.pdf", tmp_path / "letter.md"
    code = main(["letter", "--db", str(tmp_path / "studio.sqlite"), "R1", "M1", "-o", str(pdf), "-o", str(md),
                 "--police-unit", "黄山市公安局", "--by", "clerk"])
    assert code == 0
    text = _pdf_text(pdf).replace(" ", "")
    markdown = md.read_text(encoding="utf-8")
    for body in (text, markdown.replace(" ", "")):
        assert "比对线索函" in body and "黄山市公安局" in body
        assert "吴春花" in body and "胡春花" in body          # both summaries
        assert "安徽省黄山市歙县" in body                      # the report's hometown
        assert "97.0%" in body                               # the stored probability
        assert "姓名同音" in body                              # the explanation
        assert "确认人：alice（2024年1月3日）" in body
        assert "复核人：bob（2024年1月5日）" in body           # 20:00 UTC is the next day in Beijing
        assert "13800000001" not in body                      # the family's contact
        assert ID_NUMBER not in body and "[已隐去]" in body    # the ID number told in the statements
    assert "盖章" in text
    events = store.events("R1")
    sent = events[events["event"] == "letter_sent"]
    assert len(sent) == 1 and sent.iloc[0]["missing_id"] == "M1" and sent.iloc[0]["recorded_by"] == "clerk"
    assert sent.iloc[0]["detail"]["files"] == ["letter.pdf", "letter.md"]


def test_the_cli_explains_a_refusal_in_chinese(store, tmp_path, capsys):
    store.add_event("R1", "confirmed", "alice", missing_id="M1")
    code = main(["letter", "--db", str(tmp_path / "studio.sqlite"), "R1", "M1", "-o", str(tmp_path / "x.pdf")])
    assert code == 2
    assert "另一个账号" in capsys.readouterr().err


def test_an_unknown_suffix_is_refused_before_anything_is_written(store, tmp_path):
    store.add_event("R1", "confirmed", "alice", missing_id="M1")
    store.add_event("R1", "second_confirmed", "bob", missing_id="M1")
    with pytest.raises(Exception, match=r"\.pdf 或 \.md"):
        write_letter(store, "R1", "M1", [tmp_path / "a.pdf", tmp_path / "a.docx"], recorded_by="clerk")
    assert not (tmp_path / "a.pdf").exists()
    assert letter_markdown(lead_letter(store, "R1", "M1")).startswith("# 比对线索函")
