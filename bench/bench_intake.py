"""Intake speed: read a generated GBK resident CSV and print rows per second.

    python bench/bench_intake.py            # 200,000 rows
    python bench/bench_intake.py 1000000    # a province-scale file

The rows are synthetic (random combinations of a few made-up values), written with the
messiness intake must handle: GBK bytes, mixed date and age spellings, a few bad values.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from kinmatch.intake import read_residents


def make_csv(path: Path, n_rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    surnames = np.array(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"))
    given = np.array(["伟", "芳", "秀英", "春花", "建国", "玉兰", "德明", "桂英", "志强", "小红"])
    ages = np.array(["约60岁", "60多岁", "五六十岁", "45", "六十岁左右", "1960年(估)", "十七八岁",
                     "80后", "不详", "很老"])
    heights = np.array(["172cm", "1.65米", "一米七", "约170", "160", "165-170", "很高", ""])
    months = rng.integers(1, 13, n_rows)
    days = rng.integers(1, 29, n_rows)
    years = rng.integers(2010, 2025, n_rows)
    date_styles = rng.integers(0, 4, n_rows)
    dates = np.where(
        date_styles == 0, [f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(years, months, days)],
        np.where(date_styles == 1, [f"{y}年{m}月{d}日" for y, m, d in zip(years, months, days)],
                 np.where(date_styles == 2, [f"{y}/{m}/{d}" for y, m, d in zip(years, months, days)],
                          [f"{y}.{m}" for y, m in zip(years, months)])))
    frame = pd.DataFrame({
        "编号": [f"R{i:07d}" for i in range(n_rows)],
        "姓名": np.char.add(rng.choice(surnames, n_rows), rng.choice(given, n_rows)),
        "性别": rng.choice(["男", "女", "男性", "未知"], n_rows),
        "目测年龄": rng.choice(ages, n_rows),
        "身高(cm)": rng.choice(heights, n_rows),
        "入站日期": dates,
        "发现地点": rng.choice(["四川省成都市武侯区", "河南省郑州市", "火车站附近", ""], n_rows),
        "口音": rng.choice(["四川口音", "河南话", "东北口音", "外地口音", ""], n_rows),
        "体貌特征": rng.choice(["左脸有痣", "右手缺小指", "额头疤痕", "偏瘦", ""], n_rows),
        "健康状况": rng.choice(["疑似精神障碍", "智力低下", "聋哑", "老年痴呆", ""], n_rows),
        "备注": rng.choice(["", "已采血", "复查"], n_rows),
    })
    frame.to_csv(path, index=False, encoding="gbk")


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "residents_gbk.csv"
        make_csv(path, n_rows)
        size_mb = path.stat().st_size / 1e6
        start, cpu_start = time.perf_counter(), time.process_time()
        result = read_residents(path)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(f"rows: {n_rows:,}  file: {size_mb:.1f} MB  encoding: {result.frame.attrs['encoding']}")
    # CPU time too: on a shared machine the wall clock says more about the neighbours.
    print(f"read_residents: {seconds:.2f} s wall = {n_rows / seconds:,.0f} rows/s; "
          f"{cpu:.2f} s CPU = {n_rows / cpu:,.0f} rows/s of CPU")
    print(f"kept {len(result.frame):,} rows, {len(result.issues):,} issues")
    print(result.issues["reason"].value_counts().to_string())


if __name__ == "__main__":
    main()
