"""Case restoration of all-lower and ALL-CAPS text (``pipeline.truecase``) and the table it reads."""

from __future__ import annotations

import gzip
from pathlib import Path

from pipeline.truecase import truecase


def test_word_pairs_recase_names_made_of_ordinary_words() -> None:
    text = "stocks fell on wall street and in new york on monday, the world bank said. the wall of the bank fell."
    for variant in (text, text.upper()):
        out = truecase(variant)
        assert len(out) == len(variant) and out.lower() == variant.lower(), "only letter case changes"
        assert "Wall Street" in out and "New York" in out and "World Bank" in out, out
        assert out.endswith("The wall of the bank fell."), "the same words alone stay ordinary words"


def test_a_word_neither_counted_nor_english_is_read_as_a_name() -> None:
    out = truecase("kerosene prices rose after talks between zorblatt and the ministry")
    assert out.split()[0] == "Kerosene" and " zorblatt " not in out and "Zorblatt" in out
    assert "kerosene" in truecase("prices of kerosene rose sharply after talks with the ministry")


def test_mixed_case_text_is_left_alone() -> None:
    text = "Stocks fell on wall street, the world bank said."
    assert truecase(text) == text


def test_table_counts_forms_by_nature_not_position(tmp_path: Path) -> None:
    from evals.train_ner import build_truecase

    lines = [
        "MOSCOW, March 3 - Talks in Moscow ended as traders on Wall Street watched.",
        "In Moscow, officials said the wall would stand; Wall Street rose.",
        "Bank shares rose. Shares fell as the World Bank agreed with the World Bank board.",
        "In Paris the world watched the bank; in Rome the bank rate fell as the world waited.",
        "all lower case lines such as moscow or wall street are not counted",
    ]
    path = tmp_path / "case.tsv.gz"
    build_truecase(lines, path, known={"kerosene", "moscow"})
    rows = {r.split("\t")[0]: r.split("\t")[1:] for r in gzip.decompress(path.read_bytes()).decode().splitlines()}
    assert rows["moscow"][:1] == ["Moscow"], "datelines in capitals do not outvote the usual form"
    assert rows["wall street"][:1] == ["Wall Street"] and rows["world bank"][:1] == ["World Bank"]
    assert rows["shares"] == [], "a capital at a line or sentence start is positional"
    assert "in moscow" not in rows, "pairs the words' own forms already give are not written"
    assert rows["kerosene"] == [], "known English words are written as seen"


def test_headline_style_is_recased_but_tables_of_names_are_not() -> None:
    headline = "Police Clash With Protesters In Downtown Portland After Court Ruling, NATO Officials Say"
    out = truecase(headline)
    assert out == "Police clash with protesters in downtown Portland after court ruling, NATO officials say"
    results = "Greenock Morton 1 Falkirk 0\nPartick Thistle 2 Dundee United 1\nStirling Albion 0 Clydebank 3"
    assert truecase(results) == results, "capitalised because they are names, not because of a style"


def test_headline_style_text_keeps_its_places() -> None:
    from pipeline.entities import extract

    res = extract("Police Clash With Protesters In Downtown Portland After Court Ruling", mode="balanced")
    assert [(m.text, m.label) for m in res.mentions if m.label == "GPE"] == [("Portland", "GPE")]
    assert not [m for m in res.mentions if m.text in {"Court", "Police", "Protesters"}]
