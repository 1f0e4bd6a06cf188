"""Explanations: each reason shows the values that decided it, so a reviewer can check it."""

import pandas as pd
import pytest

from kinmatch.match import explain


def rec(name, keys=(), alias=(), alias_keys=(), given=(), surname=(), kind="full"):
    return {"name_norm": name, "name_keys": tuple(keys), "alias_norm": tuple(alias), "alias_keys": tuple(alias_keys),
            "given_keys": tuple(given), "surname_keys": tuple(surname), "name_kind": kind, "name_evidence": True}


NAME_REASONS = [
    # resident, report, level, reason
    (rec("周俊翰", ["zhou jun han"], ["二娃"], ["er wa"]), rec("吴雷", ["wu lei"], ["二娃"], ["er wa"]), 1,
     "部分姓名或小名相符(二娃/二娃 小名)"),
    (rec("二娃", ["er wa"], kind="nickname"), rec("张建国", ["zhang jian guo"], ["二娃"], ["er wa"]), 1,
     "部分姓名或小名相符(二娃/二娃 小名)"),
    (rec("钱海", ["qian hai"], ["铁蛋儿"], ["tie dan"]), rec("孙福", ["sun fu"], ["铁旦"], ["tie dan"]), 1,
     "部分姓名或小名相符(铁蛋儿/铁旦 小名)"),
    (rec("老薛", ["lao xue"], given=["xue"], kind="partial"),
     rec("薛宇宏", ["xue yu hong"], given=["yu hong"], surname=["xue"]), 1, "部分姓名或小名相符(老薛/薛宇宏 同姓)"),
    (rec("明廷", ["ming ting"], given=["ting"], surname=["ming"]),
     rec("陈明廷", ["chen ming ting"], given=["ming ting"], surname=["chen"]), 1, "部分姓名或小名相符(明廷/陈明廷 名字)"),
    (rec("李伟", ["li wei"]), rec("李玮", ["li wei"]), 5, "姓名同音(李伟/李玮)"),
    (rec("赵大山", ["zhao da shan"]), rec("钱小红", ["qian xiao hong"]), 0, "姓名不同(赵大山/钱小红)"),
]


@pytest.mark.parametrize("resident, report, level, text", NAME_REASONS)
def test_name_reason_shows_what_met(resident, report, level, text):
    assert explain.reason("name", level, resident, report) == text


def test_alias_reason_never_shows_the_unrelated_full_names():
    resident, report = NAME_REASONS[0][:2]
    levels = pd.Series({"name": 1, "age": 0})
    weights = pd.Series({"w_name": 2.3, "w_age": -5.5})
    text = explain.explain_pair(levels, weights, resident, report)
    assert text.startswith("年龄不可能 −5.5; 部分姓名或小名相符(二娃/二娃")
    assert "周俊翰" not in text and "吴雷" not in text
