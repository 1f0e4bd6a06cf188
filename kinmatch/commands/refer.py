"""``kinmatch refer``: referral bundles to the provincial family-search studio (转交省级工作室).

    kinmatch refer --db studio.sqlite R1 R7 -o 转交.zip --photos photos/
    kinmatch refer import 转交.zip --db province.sqlite --photos photos/
"""

from __future__ import annotations

import getpass


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "refer",
        help="转交省级工作室 write a referral bundle, or `refer import BUNDLE.zip` to load one",
        description="写出转交包：受助人员记录（xlsx，中文表头）、PFIF 1.4、照片、站内记录和已排除的候选，"
        "附校验清单；或用 `kinmatch refer import BUNDLE.zip --db province.sqlite` 在省级工作室导入"
        "（保留排除结论，不必重复审核）。Writes a referral bundle of residents (records as xlsx, "
        "PFIF 1.4, photos, the station's notes, excluded candidates, a manifest with checksums), or "
        "imports one. Examples: kinmatch refer --db studio.sqlite R1 R7 -o 转交.zip; "
        "kinmatch refer import 转交.zip --db province.sqlite",
    )
    parser.add_argument("ids", nargs="+", metavar="RESIDENT_ID",
                        help="受助人员编号 resident ids; or `import BUNDLE.zip` to load a bundle")
    parser.add_argument("--db", required=True, help="案件库 case store: SQLite path or postgresql+psycopg:// URL")
    parser.add_argument("-o", "--output", metavar="BUNDLE.zip", help="转交包 the bundle to write")
    parser.add_argument("--photos", metavar="DIR",
                        help="照片目录 photo folder: photos are taken from (import: written to) inside it only")
    parser.add_argument("--station", help="转出救助站名称 referring station (default: the residents' station)")
    parser.add_argument("--by", default=None, help="记录人 who refers or imports (default: the login name)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from kinmatch.errors import InputError
    from kinmatch.review.referral import import_bundle, write_bundle
    from kinmatch.review.store import Store

    who = args.by or getpass.getuser()
    if args.ids[0] == "import":
        if len(args.ids) != 2 or args.output:
            raise InputError("导入用法：kinmatch refer import BUNDLE.zip --db province.sqlite [--photos DIR] "
                             "(usage: one bundle, no -o)")
        with Store(args.db) as store:
            counts = import_bundle(store, args.ids[1], recorded_by=who, photo_dir=args.photos)
        print(f"已导入 {counts['residents']} 名受助人员、{counts['candidates']} 对新候选、"
              f"{counts['exclusions']} 条排除结论（另有 {counts['kept']} 条本库已排除）、{counts['comments']} 条备注、"
              f"{counts['photos']} 张照片 (imported)")
        for resident_id, missing_id, decision in counts["conflicts"]:
            print(f"注意：{resident_id} × {missing_id} 转出站已排除，但本库结论为 {decision}，未改动，请复核")
        for relative in counts["photos_kept"]:
            print(f"注意：照片 {relative} 本地已有不同的同名文件，未覆盖")
        return 0
    if not args.output:
        raise InputError("请用 -o BUNDLE.zip 指定转交包文件 (give the bundle path with -o)")
    with Store(args.db, create=False) as store:
        manifest = write_bundle(store, args.ids, args.output, recorded_by=who, station=args.station,
                                photo_dir=args.photos)
    counts = manifest["counts"]
    print(f"已写出转交包 {args.output}：{counts['residents']} 名受助人员、{counts['candidates']} 对候选、"
          f"{counts['exclusions']} 条排除、{counts['photos']} 张照片 (wrote the bundle)")
    for skipped in manifest["photos_skipped"]:
        print(f"注意：{skipped['resident_id']} 的照片 {skipped['photo']} 未打包：{skipped['reason']}")
    return 0
