"""pipeline.clean_teasers: summaries of other stories are dropped, the article's own paragraphs never."""

from __future__ import annotations

from pathlib import Path

from pipeline import clean_html as ch
from pipeline.clean_teasers import has_teasers, prefer_precise
from pipeline.page_metadata import PageMetadata

FIXTURES = Path(__file__).parent / "fixtures" / "clean"
SHIPPED = ch.Params().teaser_cohesion

ARTICLE = [
    "ROTTERDAM — Dock workers in Rotterdam returned to the harbour cranes on Monday after a nine-day "
    "strike over shift schedules ended with an agreement between the union and the terminal operators.",
    "The strike had left more than forty container ships waiting outside the harbour, and terminal "
    "operators said the backlog of containers would take about two weeks to clear.",
    "Union representatives said the agreement limits night shifts for crane operators to three per week "
    "and adds a rest period between consecutive shifts at the terminals.",
]
TEASERS = [
    "A substitute striker scored in the last minute of extra time to win the cup final for the visitors, "
    "ending a season in which the club had been close to relegation for months.",
    "Astronomers observing from the southern hemisphere reported a comet whose brightness surprised "
    "researchers, and amateur observers with binoculars should be able to see it next week.",
    "A family bakery in a small village won the national bread award for its sourdough loaf, beating "
    "hundreds of entries from professional bakeries across the country this autumn.",
]
# A paragraph of the same article that a precision pass might also drop.
MORE_ARTICLE = (
    "Terminal operators in Rotterdam said the strike agreement on shift schedules and rest periods for "
    "crane operators would be reviewed by the union after one year at the harbour."
)


def test_teaser_summaries_are_left_out() -> None:
    full = "\n".join(ARTICLE + TEASERS)
    assert prefer_precise(full, "\n".join(ARTICLE), max_cohesion=SHIPPED)


def test_article_paragraphs_dropped_by_the_precision_pass_are_kept() -> None:
    full = "\n".join(ARTICLE + [MORE_ARTICLE])
    assert not prefer_precise(full, "\n".join(ARTICLE), max_cohesion=SHIPPED)


def test_a_precise_text_that_is_another_text_or_a_stub_is_refused() -> None:
    full = "\n".join(ARTICLE + TEASERS)
    assert not prefer_precise(full, "\n".join(TEASERS[:1] + ["Entirely different words appear here now."]), SHIPPED)
    assert not prefer_precise(full * 3, ARTICLE[0], SHIPPED)  # under a fifth of the text
    assert not prefer_precise(full, "", SHIPPED)


def test_assemble_takes_the_precise_text_and_says_what_it_left_out() -> None:
    c = ch.Candidates(text="\n".join(ARTICLE + TEASERS), meta=PageMetadata(source={}), precise="\n".join(ARTICLE))
    a = ch.assemble(c)
    assert a.text == "\n".join(ARTICLE)
    assert "html_teaser_list" in a.notes
    assert [line for rule, line in a.removals if rule == "html_teaser_list"] == TEASERS
    off = ch.assemble(c, ch.Params(teasers=False))
    assert all(t in off.text for t in TEASERS)


def test_teasers_are_found_in_the_page_tree() -> None:
    from trafilatura.utils import load_html

    assert has_teasers(load_html((FIXTURES / "teaser_list.html").read_text(encoding="utf-8")))
    plain = (
        "<html><body><h2>Section</h2><p>"
        + " ".join(ARTICLE)
        + "</p><h3><a href='/x'>More</a> news</h3><p>x</p></body></html>"
    )
    assert not has_teasers(load_html(plain))
    assert not has_teasers(None)
