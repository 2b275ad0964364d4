"""HTML side of the clean stage: main-content extraction with trafilatura, metadata from the page, guarded fixes.

One trafilatura pass (balanced mode, comments left out, tables kept) gives the candidate text; the
page's own metadata (``pipeline.page_metadata``: JSON-LD, OpenGraph, ``<time>``) gives title, author,
published time, language and, on many modern pages, the publisher's ``articleBody``. ``assemble`` then
drops lines by a few rules, each one switchable in ``Params`` and kept only where it helps on dev sets
it was not chosen on:

* photo captions and credits ("Foto: dpa", "STR/AFP via Getty Images"; multilingual word lists in
  ``pipeline/data``), cross-link lines ("Read more: ...", "Les også: ...");
* lines absent from the publisher's JSON-LD ``articleBody`` when that body is long and holds most of
  the extracted text (a complete copy of the article, so what it lacks is page furniture);
* an end marker ("Have your say", "Other stories", "0 Comments") once a good part of the article is
  above it;
* on pages with a list of other stories, the summaries of those stories (``pipeline.clean_teasers``:
  a second, precision-mode pass whose text is taken when what it left out is about other things).

Broken 2008-era markup is repaired before parsing: a broken ``<title>`` (libxml2 otherwise swallows the
page into it), source line breaks folded to spaces outside ``<pre>``, and, when nothing is found, one
retry with the document prologue cut. Table rows are split into one line per cell.

Bounded work: the HTML is cut to ``MAX_HTML_CHARS`` characters before parsing, and to at most
``MAX_TAGS`` tags (so a hostile page of millions of tiny or deeply nested elements is cut short). The
prologue retry and the teaser pass run only if twice the first pass's time fits in
``EXTRA_PASS_BUDGET_S``; otherwise they are skipped (note ``html_extra_pass_skipped``).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from pipeline.clean_teasers import has_teasers, prefer_precise
from pipeline.page_metadata import PageMetadata, from_tree, page_metadata

MAX_HTML_CHARS = 2_000_000
MAX_TAGS = 30_000  # a long Wikipedia page has ~20,000
# The prologue-cut retry runs only while twice the first pass's time is within this.
EXTRA_PASS_BUDGET_S = 2.5

_TAG = re.compile(r"<[A-Za-z/!]")
_TITLE_OPEN = re.compile(r"<title\b[^>]*>", re.I)
_NEWLINES = re.compile(r"[\r\n]+")
# A doctype and/or <html> start tag up to the first following "<" (kept short: a sane prologue).
_PROLOGUE = re.compile(r"^\s*(?:<!doctype[^<]{0,500})?(?:<html\b[^<]{0,2000})?", re.I)


def repair_title(html: str) -> str:
    """Close a ``<title>`` that runs into markup (``<title>Foo</titavaScript" ...``)."""
    m = _TITLE_OPEN.search(html, 0, 50_000)
    if not m:
        return html
    start = m.end()
    end = html.lower().find("</title>", start, start + 2000)
    inner = html[start:end] if end >= 0 else html[start : start + 2000]
    if end >= 0 and "<" not in inner:
        return html
    cut = re.search(r"[<\n]", inner)
    k = start + (cut.start() if cut else min(len(inner), 200))
    return html[:k] + "</title>" + html[k:]


def fold_newlines(html: str) -> str:
    """Source line breaks to spaces, except inside ``<pre>`` (where they are the layout).

    Linear: one scan for ``<pre`` and one for its end tag each (an unclosed one runs to the end).
    """
    low = html.lower()
    parts: list[str] = []
    pos = 0
    while True:
        start = low.find("<pre", pos)
        if start < 0:
            break
        end = low.find("</pre", start)
        end = len(html) if end < 0 else end
        parts.append(_NEWLINES.sub(" ", html[pos:start]))
        parts.append(html[start:end])
        pos = end
        if end == len(html):
            break
    parts.append(_NEWLINES.sub(" ", html[pos:]))
    return "".join(parts)


def cut_prologue(html: str) -> str:
    """Drop the doctype and ``<html>`` start tag; libxml2 supplies the root itself."""
    return _PROLOGUE.sub("", html, count=1)


_BOILERPLATE = re.compile(
    r"copyright|©|\ball rights reserved|\bmay not be (?:re)?published|\bredistributed\b|"
    r"^posted (?:by|on|in)\b|"
    r"\breport (?:this|abuse)\b|^by [A-Z][A-Z .'-]+$|\bwriter$|"
    r"^(?:e-?mail|print|share|comments?|related|tags?)\b|\bclick here\b|"
    r"^(?:updated|published|last updated)\b|\bsponsored\b|\badvertis",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?\"'”’:)。！？」]\s*$")
# A sentence boundary inside a line: "... 4-2. Jiri ...", "... he said. \"We ..."
_INNER_SENTENCE = re.compile(r"[a-z0-9][.!?][\"'”’)]?\s+[\"'“‘(]?[A-Z]")
_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")

# Edge trimming: a line counts as article prose when it has at least this many words and ends like
# a sentence (or, for a long block such as a whole article in one table cell, holds at least two
# sentence boundaries). Chosen on half "A" of the eval split and checked on half "B".
MIN_PROSE_WORDS = 10
LONG_BLOCK_WORDS = 40
# Edge trimming drops only lines shorter than this.
EDGE_KEEP_WORDS = 10


# Lines that start what follows an article: comments, reader forums, other stories.
_END_MARKER = re.compile(
    r"^(?:other (?:recent )?(?:articles|stories|news)|more (?:headlines|stories|news|articles)\b|"
    r"(?:reader |your |user )?comments?\b(?! on)|thanks for your comments|have your say|"
    r"post (?:a|your) comment|add (?:a |your )?comment|leave a (?:comment|reply)|\d+ comments?\b|"
    r"related (?:stories|articles|links|news|content)|recent (?:articles|stories|posts|news)|top stories|"
    r"most (?:popular|read|viewed|emailed)|you might also like|also on|more from|"
    r"latest (?:news|headlines|stories))",
    re.I,
)
# Share of the prose words that must come before an end marker for it to cut. Chosen on half "A".
END_MARKER_MIN_SHARE = 0.3
# Reader comments can outweigh the article: a comments header cuts once this many prose words
# precede it, whatever their share.
_COMMENTS_MARKER = re.compile(
    r"^(?:thanks for your comments|have your say|post (?:a|your) comment|add (?:a |your )?comment|"
    r"leave a (?:comment|reply)|\d+ comments?\b|(?:reader |your )?comments?\s*(?:\(\d+\))?\s*:?$)",
    re.I,
)
COMMENTS_MARKER_MIN_WORDS = 50


@lru_cache(maxsize=8192)
def _words(line: str) -> int:
    """Words, with Chinese and Japanese (written without spaces) counted as two characters a word."""
    n = len(_WORD.findall(line))
    if line.isascii():
        return n
    return n + len(_CJK.findall(line)) // 2


def _is_prose(line: str) -> bool:
    words = _words(line)
    if words < MIN_PROSE_WORDS:
        return False
    if _SENTENCE_END.search(line):
        return True
    return words >= LONG_BLOCK_WORDS and len(_INNER_SENTENCE.findall(line)) >= 2


def prose_words(text: str) -> int:
    """Words in prose lines: how much article a candidate extraction holds."""
    return sum(_words(line) for line in text.split("\n") if _is_prose(line))


def _split_cells(text: str) -> list[str]:
    """trafilatura renders a table row as ``| a | b |``: one line per non-empty cell."""
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("|"):
            lines.extend(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
        else:
            lines.append(line)
    return lines


def _tables(text: str) -> tuple[list[str], list[list[str]]]:
    """Lines with table rows split into one line per cell, and the cells of each table.

    trafilatura renders a table row as ``| a | b |``; consecutive row lines are one table."""
    tables: list[list[str]] = []
    in_table = False
    for raw in text.split("\n"):
        row = raw.strip().startswith("|")
        if row:
            if not in_table:
                tables.append([])
            tables[-1].extend(_split_cells(raw))
        in_table = row
    return _split_cells(text), tables


def _cut_at_end_marker(lines: list[str], notes: list[str]) -> list[str]:
    """Cut at a short "Have your say" / "Other stories" / "0 Comments" line after the article.

    Only once ``END_MARKER_MIN_SHARE`` of the prose words came before it, or for a comments header
    ``COMMENTS_MARKER_MIN_WORDS`` of them (so a marker above the article, in the page header, cuts
    nothing).
    """
    total = sum(_words(ln) for ln in lines if _is_prose(ln))
    seen = 0
    for i, line in enumerate(lines):
        if (
            seen
            and _words(line) <= 12
            and (
                (seen >= END_MARKER_MIN_SHARE * total and _END_MARKER.match(line))
                or (seen >= COMMENTS_MARKER_MIN_WORDS and _COMMENTS_MARKER.match(line))
            )
        ):
            notes.append("html_end_marker")
            return lines[:i]
        if _is_prose(line):
            seen += _words(line)
    return lines


# ---------------------------------------------------------------------------------------------
# Word lists (data files, read once on first use).

_DATA = Path(__file__).with_name("data")


@cache
def _word_list(name: str) -> tuple[str, ...]:
    lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
    return tuple(ln.strip().casefold() for ln in lines if ln.strip() and not ln.startswith("#"))


def _alternation(name: str) -> str:
    return "|".join(re.escape(w) for w in sorted(_word_list(name), key=len, reverse=True))


@cache
def _caption_re() -> re.Pattern[str]:
    labels, agencies = _alternation("caption_labels.txt"), _alternation("photo_agencies.txt")
    return re.compile(
        # "Foto: dpa", "Photo: Jane Doe/Reuters", "... Bild: Keystone" (a label and a short credit at the end)
        r"(?:^|[\s.|–-])(?:" + labels + r")\s*(?:credit)?\s*[:©]\s*[^.!?:]{1,70}$|"
        # "STR/AFP via Getty Images", "Jane Doe / Reuters", "(Getty Images)", "© imago images"
        r"^(?:[\w .,'’-]{0,60}(?:/|\bvia\b|©)\s*)?\(?(?:"
        + agencies
        + r")(?:\s*(?:/|\bvia\b)\s*[\w .'-]{1,40})?\)?\.?$|"
        r"[/©]\s*(?:" + agencies + r")\)?\.?$",
        re.I,
    )


@cache
def _related_re() -> re.Pattern[str]:
    return re.compile(r"^(?:" + _alternation("related_prefixes.txt") + r")\s*(?:[:|»>]|\s[-–—]\s|$)", re.I)


# ---------------------------------------------------------------------------------------------
# Candidates (the expensive part, once per page) and the cheap decision rule over them.


@dataclass
class Candidates:
    """What the extraction passes found on one page; ``assemble`` turns it into the text."""

    text: str
    meta: PageMetadata
    precise: str | None = None  # trafilatura's precision pass, run only on pages with teasers
    title: str | None = None
    author: str | None = None
    date: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Params:
    """The clean stage's tunable choices. Each was chosen on two dev sets and checked on the third
    (``make eval-clean`` prints the leave-one-set-out figures; README "Clean")."""

    tables: str = "keep"
    json_ld_filter: bool = True
    json_ld_min_share: float = 0.7
    captions: bool = True
    related: bool = True
    link_items: bool = False
    boilerplate: bool = True
    end_marker: bool = True
    edge_trim: bool = True
    edge_max_lines: int = 4
    teasers: bool = True
    teaser_cohesion: float = 0.5

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The values the eval tries for each choice (leave-one-set-out check, ``evals/clean.py``).
CHOICES: dict[str, list[Any]] = {
    "tables": ["keep", "prose", "layout"],
    "json_ld_filter": [False, True],
    "json_ld_min_share": [0.5, 0.7, 0.9],
    "captions": [False, True],
    "related": [False, True],
    "link_items": [False, True],
    "boilerplate": [False, True],
    "end_marker": [False, True],
    "edge_trim": [False, True],
    "edge_max_lines": [2, 4, 8],
    "teasers": [False, True],
    "teaser_cohesion": [0.2, 0.3, 0.4, 0.5],
}

# The JSON-LD filter applies only when the publisher's articleBody is substantial and holds most of
# lies within what the extractor found and makes up most of it (the same, complete article, not a
# paywall teaser or a summary).
JSON_LD_MIN_WORDS = 80
JSON_LD_MIN_COVER = 0.9
JSON_LD_MIN_OF_TEXT = 0.7
JSON_LD_MIN_INNER_WORDS = 25


@dataclass
class Assembled:
    text: str
    removals: list[tuple[str, str]]  # (rule, removed line)
    notes: list[str]


def _token_set(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _json_ld_filter(lines: list[str], meta: PageMetadata, min_share: float, drop: Any) -> list[str]:
    body = meta.article_body
    if not body or _words(body) < JSON_LD_MIN_WORDS:
        return lines
    body_tokens = Counter(_WORD.findall(body.casefold()))
    found = Counter(_WORD.findall("\n".join(lines).casefold()))
    # Only a complete copy: nearly all of articleBody is in what the extractor found.
    common = sum((body_tokens & found).values())
    if common < JSON_LD_MIN_COVER * sum(body_tokens.values()) or common < JSON_LD_MIN_OF_TEXT * sum(found.values()):
        return lines
    known = set(body_tokens) | _token_set(meta.description or "") | _token_set(meta.title or "")
    inside = []
    for line in lines:
        t = _WORD.findall(line.casefold())
        inside.append(not t or sum(1 for w in t if w in known) >= min_share * len(t))
    if not any(inside):
        return lines
    first = inside.index(True)
    last = len(inside) - 1 - inside[::-1].index(True)
    kept = []
    for i, line in enumerate(lines):
        # Outside articleBody's span everything it lacks goes; within it, only whole paragraphs
        # (a short line there is a subheading, which articleBody usually leaves out).
        if not inside[i] and (i < first or i > last or _words(line) >= JSON_LD_MIN_INNER_WORDS):
            drop("html_not_in_json_ld", line)
        else:
            kept.append(line)
    return kept


def _trim_edge(edge: list[str], max_lines: int, drop: Any) -> list[str]:
    """``edge`` runs from the page border towards the article; returns what stays."""
    if len(edge) > max_lines:
        return edge
    kept = []
    for line in edge:
        if _words(line) < EDGE_KEEP_WORDS and not line.startswith("- "):
            drop("html_edge_trim", line)
        else:
            kept.append(line)
    return kept


def assemble(c: Candidates, params: Params | None = None) -> Assembled:
    """The article text from the candidates: trafilatura's text minus the lines our rules drop."""
    p = params or Params()
    full = _assemble_text(c.text, c.meta, p)
    if not (p.teasers and c.precise):
        return full
    precise = _assemble_text(c.precise, c.meta, p)
    if not prefer_precise(full.text, precise.text, p.teaser_cohesion):
        return full
    kept = set(precise.text.split("\n"))
    dropped = [("html_teaser_list", line) for line in full.text.split("\n") if line not in kept]
    return Assembled(precise.text, precise.removals + dropped, precise.notes + ["html_teaser_list"])


def _assemble_text(text: str, meta: PageMetadata, p: Params) -> Assembled:
    removals: list[tuple[str, str]] = []
    notes: list[str] = []

    def drop(rule: str, line: str) -> None:
        removals.append((rule, line))
        notes.append(rule)

    lines: list[str] = []
    caption, related = _caption_re(), _related_re()
    all_lines, tables = _tables(text)
    dropped_cells: set[str] = set()
    if p.tables != "keep":
        outside = prose_words("\n".join(ln for ln in all_lines if not any(ln in t for t in tables)))
        for table in tables:
            inside = sum(_words(cell) for cell in table if _is_prose(cell))
            # "prose": only the cells that read as sentences stay (the rest is navigation, tickers,
            # scoreboards); "layout": a table stays only when it holds more prose than the rest of
            # the page (an old page laid out in a table), otherwise it goes whole.
            if p.tables == "prose":
                dropped_cells.update(cell for cell in table if not _is_prose(cell))
            elif inside <= outside:
                dropped_cells.update(table)
    for raw in all_lines:
        if raw in dropped_cells:
            drop("html_table", raw)
            continue
        line = raw.strip()
        if not line:
            continue
        short = _words(line) < 25
        if p.captions and short and caption.search(line):
            drop("html_caption", line)
        elif p.related and short and related.match(line):
            drop("html_related_link", line)
        elif p.link_items and line.startswith("- ") and not _SENTENCE_END.search(line):
            drop("html_link_item", line)
        elif p.boilerplate and short and _BOILERPLATE.search(line):
            drop("html_boilerplate_line", line)
        else:
            lines.append(line)
    if p.json_ld_filter:
        lines = _json_ld_filter(lines, meta, p.json_ld_min_share, drop)
    if p.end_marker:
        kept = _cut_at_end_marker(lines, notes)
        for line in lines[len(kept) :]:
            removals.append(("html_end_marker", line))
        lines = kept
    if p.edge_trim:
        first = next((i for i, ln in enumerate(lines) if _is_prose(ln)), None)
        if first is not None:
            last = max(i for i, ln in enumerate(lines) if _is_prose(ln))
            # Only a few short lines at each edge go (datelines, bylines, kickers, link labels): a
            # long line, a list item or a longer run of short lines is content that does not read as
            # sentences (a list of materials, formula fragments, a table).
            head, tail = lines[:first], lines[last + 1 :]
            lines = (
                _trim_edge(head, p.edge_max_lines, drop)
                + lines[first : last + 1]
                + _trim_edge(tail[::-1], p.edge_max_lines, drop)[::-1]
            )
    return Assembled("\n".join(lines), removals, list(dict.fromkeys(notes)))


@dataclass
class HtmlExtract:
    text: str
    title: str | None
    author: str | None
    date: str | None
    language: str | None
    notes: list[str]
    removals: list[tuple[str, str]] = field(default_factory=list)
    published: datetime | None = None


def _parse(html: str, notes: list[str]) -> Any:
    """trafilatura's own parser (charset, repairs); one tree serves metadata and extraction."""
    try:
        from trafilatura.utils import load_html

        return load_html(html)
    except Exception as exc:  # lxml on hostile input: treat as "nothing usable"
        notes.append(f"html_error:{type(exc).__name__}")
        return None


def _extract(tree: Any, notes: list[str], precise: bool = False) -> Any:
    if tree is None:
        return None
    try:
        import trafilatura

        return trafilatura.bare_extraction(
            tree, include_comments=False, include_tables=True, with_metadata=False, favor_precision=precise
        )
    except Exception as exc:  # trafilatura/lxml on hostile input: treat as "nothing usable"
        notes.append(f"html_error:{type(exc).__name__}")
        return None


def _prepare(html: str, notes: list[str]) -> str:
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
        notes.append("html_truncated")
    html = html.replace("\x00", "")
    for count, m in enumerate(_TAG.finditer(html), start=1):
        if count > MAX_TAGS:
            html = html[: m.start()]
            notes.append("html_too_many_tags")
            break
    repaired = repair_title(html)
    if repaired is not html:
        notes.append("html_title_repaired")
    return fold_newlines(repaired)


def extraction_candidates(html: str) -> Candidates:
    """Run the extraction passes over one page (bounded: see the module docstring)."""
    notes: list[str] = []
    folded = _prepare(html, notes)
    tree = _parse(folded, notes)
    meta = from_tree(tree) if tree is not None else PageMetadata(source={})
    t0 = time.perf_counter()
    doc = _extract(tree, notes)  # works on a copy of the tree
    spent = time.perf_counter() - t0
    text = getattr(doc, "text", None) or ""
    if not prose_words(text) and 2 * spent <= EXTRA_PASS_BUDGET_S:
        cut = cut_prologue(folded)
        if cut != folded:
            doc2 = _extract(_parse(cut, notes), notes)
            text2 = getattr(doc2, "text", None) or ""
            if prose_words(text2):
                text = text2
                notes.append("html_prologue_cut")
                if meta.title is None:
                    meta = page_metadata(cut)
    elif not prose_words(text):
        notes.append("html_extra_pass_skipped")
    precise = None
    if text and has_teasers(tree):
        if 2 * spent <= EXTRA_PASS_BUDGET_S:
            precise = getattr(_extract(tree, notes, precise=True), "text", None) or None
        else:
            notes.append("html_extra_pass_skipped")
    return Candidates(text=text, meta=meta, precise=precise, notes=notes)


def extract_html(html: str, params: Params | None = None, candidates: Candidates | None = None) -> HtmlExtract:
    """Main content and metadata of one page. Never raises; an unusable page gives empty text."""
    c = candidates if candidates is not None else extraction_candidates(html)
    a = assemble(c, params)
    if not a.text.strip() and c.meta.article_body:
        a.text = c.meta.article_body
        a.notes.append("html_text_from_json_ld")
    if not a.text.strip():
        c.notes.append("html_no_content")
    md = c.meta
    return HtmlExtract(
        text=a.text,
        title=md.title,
        author=md.author,
        date=md.published.isoformat() if md.published else None,
        language=md.language,
        notes=c.notes + a.notes,
        removals=a.removals,
        published=md.published,
    )
