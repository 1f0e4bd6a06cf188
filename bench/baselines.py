"""Baselines kinmatch is measured against on the same simulated data.

* ``exact_name_lookup``: what a police search that only takes exact names returns.
* ``splink_link``: a reasonable splink model (DuckDB backend) on the fields a generic linkage tool
  would use: toneless pinyin of the name, sex, birth year, province, height. It gets kinmatch's
  cleaned values (the normalized frames), so the comparison is about the linkage method, not parsing.

Both return the SCHEMA.md candidate table (resident_id, missing_id, rank, match_probability).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd


def _rank(pairs: pd.DataFrame, top_k: int, score: str) -> pd.DataFrame:
    pairs = pairs.sort_values(["resident_id", score, "missing_id"], ascending=[True, False, True])
    pairs["rank"] = pairs.groupby("resident_id").cumcount() + 1
    return pairs[pairs["rank"] <= top_k].reset_index(drop=True)


def exact_name_lookup(residents: pd.DataFrame, missing: pd.DataFrame, top_k: int = 10) -> pd.DataFrame:
    """Reports whose name is exactly the resident's written name (ties in id order)."""
    left = residents[["resident_id", "name"]].dropna()
    right = missing[["missing_id", "name"]].dropna()
    pairs = left.merge(right, on="name")[["resident_id", "missing_id"]]
    pairs["match_probability"] = 1.0
    return _rank(pairs, top_k, "match_probability")


def _splink_frame(frame: pd.DataFrame, id_column: str, kind: str) -> pd.DataFrame:
    birth_year = (frame["birth_year_low"] + frame["birth_year_high"]) / 2
    if kind == "resident":
        # A generic tool's notion of "province" for a resident: where they were found.
        province = frame["found_province"]
    else:
        province = frame["home_province"]
    pinyin = frame["name_pinyin"].where(frame["name_evidence"].fillna(False).astype(bool))
    surname = pinyin.str.split(" ").str[0]
    return pd.DataFrame({
        "unique_id": frame[id_column].astype(str),
        "name_pinyin": pinyin.str.replace(" ", "", regex=False),
        "surname_pinyin": surname,
        "sex": frame["sex_code"],
        "birth_year": birth_year.round().astype("Int64"),
        "province": province,
        "height": frame["height_cm"].round().astype("Int64"),
    })


def _numeric_bands(column: str, thresholds: list[float]):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    levels = [cll.NullLevel(column), cll.ExactMatchLevel(column)]
    levels += [cll.AbsoluteDifferenceLevel(column, t) for t in thresholds]
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(levels, output_column_name=column)


def splink_link(residents_norm: pd.DataFrame, missing_norm: pd.DataFrame, top_k: int = 10,
                seed: int = 1) -> pd.DataFrame:
    """The splink model on kinmatch's normalized frames."""
    left = _splink_frame(residents_norm, "resident_id", "resident")
    right = _splink_frame(missing_norm, "missing_id", "missing")
    return splink_link_fields(left, right, top_k, seed)


def splink_link_fields(left: pd.DataFrame, right: pd.DataFrame, top_k: int = 10, seed: int = 1) -> pd.DataFrame:
    """The splink model on frames of its own fields (unique_id, name_pinyin, surname_pinyin, sex,
    birth_year, province, height), however they were prepared."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name_pinyin", [0.95, 0.88, 0.7]),
            cl.ExactMatch("sex"),
            _numeric_bands("birth_year", [2, 5, 10]),
            cl.ExactMatch("province"),
            _numeric_bands("height", [3, 8, 15]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("name_pinyin"),
            block_on("surname_pinyin", "sex"),
            block_on("sex", "birth_year", "province"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    left_sdf = db_api.register(left, dataset_display_name="residents")
    right_sdf = db_api.register(right, dataset_display_name="missing")
    linker = Linker([left_sdf, right_sdf], settings)
    linker.training.estimate_probability_two_random_records_match([block_on("name_pinyin", "sex")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for rule in (block_on("name_pinyin"), block_on("sex", "birth_year")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    scored = linker.inference.predict(threshold_match_probability=None).as_pandas_dataframe()
    # Orient each pair as (resident, report) whatever order splink chose.
    left_is_resident = scored["source_dataset_l"] == "residents"
    pairs = pd.DataFrame({
        "resident_id": np.where(left_is_resident, scored["unique_id_l"], scored["unique_id_r"]),
        "missing_id": np.where(left_is_resident, scored["unique_id_r"], scored["unique_id_l"]),
        "match_probability": scored["match_probability"].to_numpy(),
    })
    return _rank(pairs, top_k, "match_probability")
