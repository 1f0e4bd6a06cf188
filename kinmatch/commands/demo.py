"""``kinmatch demo``: the whole pipeline on built-in synthetic data, nothing to prepare.

    kinmatch demo                       # writes ./kinmatch-demo/
    kinmatch demo -o /tmp/demo --residents 100 --missing 1000 --seed 7

It simulates a station's resident list and a studio's missing-person reports (see
:mod:`kinmatch.datasets`), writes them as a station would have them — residents as UTF-8 CSV with
BOM, reports as a GBK (GB18030) CSV from an office PC, both with Chinese headers — and then runs
every stage on them: intake, normalizers, linking, notices (:data:`STEPS`, in order). Every file
is written atomically. The simulation's answer key (``truth.csv``, ``distortions.csv``) is written
too, so the candidates can be checked.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from kinmatch._io import write_csv

RESIDENT_HEADERS = {
    "resident_id": "编号", "station": "救助站", "name": "姓名", "name_source": "姓名来源", "alias": "别名",
    "sex": "性别", "age": "年龄", "birth_date": "出生日期", "height": "身高", "found_date": "入站日期",
    "found_place": "发现地点", "accent": "口音", "description": "体貌特征", "clothing": "衣着",
    "health": "健康状况", "statements": "自述", "photo": "照片", "contact": "联系电话",
}
MISSING_HEADERS = {
    "missing_id": "寻人编号", "name": "姓名", "alias": "小名", "sex": "性别", "birth_date": "出生日期",
    "age": "年龄", "height": "身高", "missing_date": "走失日期", "missing_place": "走失地点",
    "hometown": "户籍地", "dialect": "方言", "description": "体貌特征", "clothing": "衣着",
    "health": "健康状况", "contact": "联系方式", "source": "信息来源",
}
RESIDENTS_FILE = "受助人员.csv"
MISSING_FILE = "寻人启事.csv"
MISSING_ENCODING = "gb18030"  # byte-identical to GBK for these texts; GB18030 also covers ・ and rare names


@dataclass
class DemoRun:
    """What the demo did: its settings, the files it wrote, and what each step produced."""

    out_dir: Path
    n_residents: int
    n_missing: int
    seed: int
    files: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    echo: Callable[[str], None] = print


# ---- steps -------------------------------------------------------------------------------------

def _simulate(demo: DemoRun) -> None:
    from kinmatch.datasets import simulate

    sim = simulate(n_missing=demo.n_missing, n_residents=demo.n_residents, seed=demo.seed)
    demo.results["simulation"] = sim
    demo.echo(f"simulated {len(sim.residents)} residents and {len(sim.missing)} missing-person reports "
              f"(seed {demo.seed}); {sim.truth['resident_id'].nunique()} residents have a true report")


def write_station_files(sim, out_dir: str | Path) -> dict[str, Path]:
    """Write a :class:`~kinmatch.datasets.Simulation` as a station and a studio would have it.

    Residents: ``受助人员.csv``, UTF-8 with BOM; reports: ``寻人启事.csv``, GBK/GB18030; both with
    Chinese headers. The answer key (``answer_key/truth.csv``, ``answer_key/distortions.csv``) is
    UTF-8 with BOM. All atomically. Returns the paths by role.
    """
    out = Path(out_dir)
    residents = sim.residents[list(RESIDENT_HEADERS)].rename(columns=RESIDENT_HEADERS)
    missing = sim.missing[list(MISSING_HEADERS)].rename(columns=MISSING_HEADERS)
    return {
        "residents": write_csv(residents, out / RESIDENTS_FILE, encoding="utf-8-sig"),
        "missing": write_csv(missing, out / MISSING_FILE, encoding=MISSING_ENCODING),
        "truth": write_csv(sim.truth, out / "answer_key" / "truth.csv"),
        "distortions": write_csv(sim.distortions, out / "answer_key" / "distortions.csv"),
    }


def _write_files(demo: DemoRun) -> None:
    out = demo.out_dir
    demo.files.update(write_station_files(demo.results["simulation"], out))
    demo.echo(f"wrote {demo.files['residents']} (UTF-8 with BOM) and {demo.files['missing']} (GBK/GB18030); "
              f"answer key in {out / 'answer_key'}")


def _issue_summary(issues: pd.DataFrame) -> str:
    if len(issues) == 0:
        return "no issues"
    counts = issues.groupby("reason").size().sort_values(ascending=False)
    return ", ".join(f"{reason} {count}" for reason, count in counts.items())


def _intake(demo: DemoRun) -> None:
    import kinmatch

    for kind, reader, key in (("residents", kinmatch.read_residents, "residents"),
                              ("missing", kinmatch.read_missing, "missing")):
        frame, issues = reader(demo.files[key])
        demo.results[f"{kind}_frame"], demo.results[f"{kind}_issues"] = frame, issues
        demo.echo(f"intake {demo.files[key].name}: {len(frame)} rows; issues: {_issue_summary(issues)}")


def _normalize(demo: DemoRun) -> None:
    import kinmatch

    for kind, normalizer in (("residents", kinmatch.normalize_residents), ("missing", kinmatch.normalize_missing)):
        normalized, issues = normalizer(demo.results[f"{kind}_frame"])
        demo.results[f"{kind}_normalized"] = normalized
        demo.echo(f"normalized {kind}: {len(normalized)} rows; issues: {_issue_summary(issues)}")


def _link(demo: DemoRun) -> None:
    import kinmatch

    candidates = kinmatch.link(demo.results["residents_normalized"], demo.results["missing_normalized"],
                               top_k=10, progress=False)
    demo.results["candidates"] = candidates
    demo.files["candidates"] = write_csv(candidates, demo.out_dir / "candidates.csv")
    demo.echo(f"linked: {len(candidates)} candidate pairs for {candidates['resident_id'].nunique()} residents "
              f"-> {demo.files['candidates']}")
    from kinmatch.match.evaluate import recall_at_k

    recall = recall_at_k(candidates, demo.results["simulation"].truth, ks=(1, 10))
    demo.results["recall"] = recall
    demo.echo("against the answer key: " + ", ".join(f"{k} {v:.2f}" for k, v in dict(recall).items()))
    _show_top_candidates(demo, candidates)


def _show_top_candidates(demo: DemoRun, candidates: pd.DataFrame, n_residents: int = 3, top: int = 3) -> None:
    """Print a few residents with their best candidates and reasons, as a reviewer would see them;
    ``✓`` marks the simulation's true report (a real studio has no such key)."""
    sim = demo.results["simulation"]
    true_pairs = set(zip(sim.truth["resident_id"], sim.truth["missing_id"], strict=True))
    residents = demo.results["residents_frame"].set_index("resident_id")
    reports = demo.results["missing_frame"].set_index("missing_id")
    shown = [rid for rid in dict.fromkeys(sim.truth["resident_id"]) if rid in set(candidates["resident_id"])]
    for resident_id in shown[:n_residents]:
        record = residents.loc[resident_id]
        demo.echo(f"\n{resident_id} {record.get('name') or '(无名)'}，{record.get('sex') or ''}，"
                  f"{record.get('age') or ''}，发现于{record.get('found_place') or '?'}：")
        rows = candidates[candidates["resident_id"] == resident_id].nsmallest(top, "rank")
        for row in rows.itertuples(index=False):
            report = reports.loc[row.missing_id]
            mark = "✓" if (resident_id, row.missing_id) in true_pairs else " "
            demo.echo(f"  {mark} {row.rank}. {row.missing_id} {report.get('name') or ''} "
                      f"p={row.match_probability:.2f}  {row.explanation}")


def _notices(demo: DemoRun) -> None:
    from kinmatch.notices import write_notices

    residents = demo.results.get("residents_frame")
    notices, issues = write_notices(residents, demo.out_dir / "notices", formats=("txt",))
    written = notices["path"].notna().sum() if "path" in notices else 0
    demo.results["notices"] = notices
    demo.echo(f"notices: {written} public notices (寻亲公告) written to {demo.out_dir / 'notices'}, "
              f"{len(issues)} skipped")


STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("simulate", _simulate),
    ("write station files", _write_files),
    ("intake", _intake),
    ("normalize", _normalize),
    ("link", _link),
    ("notices", _notices),
]
"""The demo's stages, in order; each reads what the earlier ones left in ``DemoRun.results``."""


def run_demo(out_dir: str | Path = "kinmatch-demo", n_residents: int = 200, n_missing: int = 2_000,
             seed: int = 2024, echo: Callable[[str], None] = print) -> DemoRun:
    """Run the demo into ``out_dir``; return what it wrote and produced.

        >>> import tempfile
        >>> demo = run_demo(tempfile.mkdtemp(), n_residents=20, n_missing=200, echo=lambda s: None)  # doctest: +SKIP
        >>> sorted(demo.files)[:2]                                                                 # doctest: +SKIP
        ['candidates', 'distortions']
    """
    demo = DemoRun(Path(out_dir), int(n_residents), int(n_missing), int(seed), echo=echo)
    for _name, step in STEPS:
        step(demo)
    return demo


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on built-in synthetic data",
        description="Simulate a station's residents and a studio's missing-person reports, write them as "
                    "station files (UTF-8 and GBK CSV with Chinese headers), then read, normalize, link and "
                    "write notices. Synthetic data only: no real person appears.")
    parser.add_argument("-o", "--output", default="kinmatch-demo", help="output folder (default ./kinmatch-demo)")
    parser.add_argument("--residents", type=int, default=200, help="number of residents (default 200)")
    parser.add_argument("--missing", type=int, default=2_000, help="number of missing-person reports (default 2000)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (same seed, same files)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kinmatch.errors import InputError

    if args.residents < 0 or args.missing < 0:
        raise InputError(f"--residents and --missing must be >= 0, got {args.residents} and {args.missing}")
    run_demo(args.output, args.residents, args.missing, args.seed)
    return 0
