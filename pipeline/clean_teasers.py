"""Pages that carry a list of other stories ("teasers") beside the article.

A teaser is a headline that is nothing but a link to another page, followed by a paragraph that
summarises that page. trafilatura's balanced mode often keeps the summaries (they read as prose),
its precision mode drops them but on other pages also drops real article text. So the precision
pass runs only on pages that have teasers (``has_teasers``, cheap on the parsed tree), and its text
is taken only when what it left out does not belong with what it kept (``prefer_precise``): the
summaries of other stories share few words with the article, a paragraph of the article shares many.
"""

from __future__ import annotations

import re
from typing import Any

# A headline element holding a link, directly followed by a paragraph.
_TEASER_XPATH = "//*[self::h2 or self::h3 or self::h4][a][following-sibling::*[1][self::p]]"
# Words of five or more letters carry the topic; shorter ones are mostly function words.
_TOPIC_WORD = re.compile(r"\w{5,}")
# The precise text must be (nearly) contained in the full one: it is the same article, trimmed.
MIN_CONTAINED = 0.95
# Guard: the precise text keeps at least this share of the full text's words.
MIN_KEPT = 0.2


def has_teasers(tree: Any) -> bool:
    """True if the page has a headline that is wholly a link, followed by a paragraph."""
    if tree is None:
        return False
    for heading in tree.xpath(_TEASER_XPATH):
        text = " ".join(heading.text_content().split())
        linked = " ".join(" ".join(a.text_content() for a in heading.iter("a")).split())
        if text and text == linked:
            return True
    return False


def _topic_words(text: str) -> list[str]:
    return _TOPIC_WORD.findall(text.casefold())


def prefer_precise(full: str, precise: str, max_cohesion: float) -> bool:
    """Whether ``precise`` (the precision pass) is the article and the rest of ``full`` is teasers.

    Cohesion: the share of the topic words in the lines only ``full`` has that also occur in
    ``precise``. Below ``max_cohesion`` those lines are about other things."""
    precise_list, full_words = _topic_words(precise), _topic_words(full)
    precise_words = set(precise_list)
    if not precise_words or len(precise_list) < MIN_KEPT * len(full_words):
        return False
    if len(precise_words & set(full_words)) < MIN_CONTAINED * len(precise_words):
        return False
    kept = set(precise.split("\n"))
    left_out = _topic_words("\n".join(line for line in full.split("\n") if line not in kept))
    return sum(w in precise_words for w in left_out) / max(1, len(left_out)) < max_cohesion
