"""Clothing text → (colour, garment) items (kinmatch.normalize.clothing)."""

import pandas as pd
import pytest

from kinmatch.normalize.clothing import clothing_items, colour_family, colours_agree, garments_agree, parse_clothing


@pytest.mark.parametrize("text, items", [
    ("走失时上身穿咖啡色棉袄，下身穿黑色裤子，脚穿布鞋", ("咖啡色:棉袄", "黑色:裤子", ":布鞋")),
    ("穿咖啡色棉袄、布鞋", ("咖啡色:棉袄", ":布鞋")),
    ("衣衫褴褛，身穿褐色棉服、黑布鞋", ("褐色:棉袄", "黑:布鞋")),
    ("穿深蓝色夹克衫、牛仔长裤、球鞋", ("深蓝色:外套", ":牛仔裤", ":运动鞋")),
    ("穿紅色外套", ("红色:外套",)),                       # traditional characters
    ("穿灰色运动外套、灰色运动裤", ("灰色:运动服", "灰色:运动裤")),
    ("穿白色T恤", ("白色:T恤",)),                        # full-width letters
    ("身着蓝色上衣和黑色长裤", ("蓝色:上衣", "黑色:裤子")),
    ("衣着不详", ()),
    ("", ()),
    (None, ()),
])
def test_clothing_items(text, items):
    assert clothing_items(text) == items


def test_a_colour_belongs_only_to_the_garment_of_its_clause():
    # 红色 names the coat; the shoes after the comma have no colour
    assert clothing_items("穿红色外套，布鞋") == ("红色:外套", ":布鞋")


@pytest.mark.parametrize("a, b, agree", [
    ("咖啡色", "褐色", True), ("深色", "蓝色", True), ("浅色", "米白色", True), ("红色", "蓝色", False),
    ("军绿色", "墨绿色", True), ("", "红色", False),
])
def test_colours_agree(a, b, agree):
    assert colours_agree(colour_family(a), colour_family(b)) is agree


@pytest.mark.parametrize("a, b, agree", [
    ("棉袄", "棉袄", True), ("上衣", "毛衣", True), ("裤子", "牛仔裤", True), ("棉袄", "外套", False),
    ("裤子", "外套", False), ("布鞋", "皮鞋", False),
])
def test_garments_agree(a, b, agree):
    assert garments_agree(a, b) is agree


def test_every_word_the_simulator_rewords_parses_into_one_item():
    from kinmatch.datasets import vocab

    for garment, words in vocab.GARMENT_WORDS.items():
        for word in (garment, *words):
            assert len(clothing_items("穿" + word)) == 1, word
    for colour, words in vocab.COLOUR_WORDS.items():
        for word in (colour, *words):
            assert colour_family(word), word
            assert colours_agree(colour_family(colour), colour_family(word)), (colour, word)


def test_parse_clothing_is_a_tuple_column_with_blank_as_empty_tuple():
    column = parse_clothing(pd.Series(["穿黑色外套", None, float("nan"), "穿黑色外套"], index=[5, 6, 7, 8]))
    assert column.index.tolist() == [5, 6, 7, 8]
    assert column.tolist() == [("黑色:外套",), (), (), ("黑色:外套",)]
    assert column.iloc[0] is column.iloc[3]  # one tuple per distinct text


def test_normalizers_add_clothing_items_and_the_contract_holds():
    from kinmatch.normalize.contract import NORMALIZED_COLUMNS, check_normalized
    from kinmatch.normalize.records import normalize_missing, normalize_residents

    assert NORMALIZED_COLUMNS["clothing_items"] == "texts"
    residents, _ = normalize_residents(pd.DataFrame({"resident_id": ["R1", "R2"],
                                                     "clothing": ["穿棕色棉衣、布鞋", None]}))
    missing, _ = normalize_missing(pd.DataFrame({"missing_id": ["M1"], "clothing": ["走失时上身穿咖啡色棉袄"]}))
    assert residents["clothing_items"].tolist() == [("棕色:棉袄", ":布鞋"), ()]
    assert missing["clothing_items"].tolist() == [("咖啡色:棉袄",)]
    check_normalized(residents, "resident")
    check_normalized(missing, "missing")
