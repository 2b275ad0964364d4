"""HTML side of the clean stage: main-content extraction with trafilatura plus news-specific fixes.

What we add on top of plain ``trafilatura.extract`` (measured in ``evals/clean.py``):

* a repair pass for a broken ``<title>`` (unclosed, or with a mangled end tag): libxml2 then
  swallows the whole page into the title and trafilatura returns nothing;
* source line breaks folded into spaces outside ``<pre>`` (HTML treats them as spaces, but
  trafilatura keeps them, so hard-wrapped articles came out as short "non-sentence" lines that the
  edge trimming below dropped);
* comments left out; two candidate extractions, without and with tables: news bodies are
  paragraphs and tables on news pages are mostly navigation, tickers and scoreboards, but many older
  pages lay the whole article out in a table. Table rows are split into one line per cell, and the
  with-tables candidate wins only when it holds ``TABLE_PROSE_RATIO`` times the prose words;
* when neither candidate has any prose, one more try with the document prologue (a truncated
  ``<!DOCTYPE`` or ``<html ...`` tag that makes libxml2 drop the body) cut off;
* a line post-filter: boilerplate lines (copyright, "posted by", share/print/email links, ...),
  headline-like list items, and edge trimming - lines before the first and after the last
  sentence-like paragraph (weather boxes, dates, section names, related links) are dropped, and
  everything from an end marker on ("Have your say", "Other stories", "0 Comments", ...) once a good
  part (``END_MARKER_MIN_SHARE``) of the article is above it.

Bounded work: the HTML is cut to ``MAX_HTML_CHARS`` characters before parsing, and to at most
``MAX_TAGS`` tags (so a hostile page of millions of tiny or deeply nested elements is cut short).
Each extra extraction pass runs only if the time spent so far plus the slowest pass so far fits in
``EXTRA_PASS_BUDGET_S``; otherwise it is skipped (note ``html_extra_pass_skipped``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

MAX_HTML_CHARS = 2_000_000
MAX_TAGS = 10_000
# Extra passes (with tables, prologue cut) only while elapsed + slowest pass <= this.
EXTRA_PASS_BUDGET_S = 2.5
# The with-tables candidate replaces the without-tables one when it has this many times the prose
# words. Chosen on half "A" of the eval split (1.5 to 3 all score within 0.001) and checked on "B".
TABLE_PROSE_RATIO = 2.0

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
_SENTENCE_END = re.compile(r"[.!?\"'”’:)]\s*$")
# A sentence boundary inside a line: "... 4-2. Jiri ...", "... he said. \"We ..."
_INNER_SENTENCE = re.compile(r"[a-z0-9][.!?][\"'”’)]?\s+[\"'“‘(]?[A-Z]")
_WORD = re.compile(r"\w+")

# Edge trimming: a line counts as article prose when it has at least this many words and ends like
# a sentence (or, for a long block such as a whole article in one table cell, holds at least two
# sentence boundaries). Chosen on half "A" of the eval split and checked on half "B".
MIN_PROSE_WORDS = 10
LONG_BLOCK_WORDS = 40


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


def _words(line: str) -> int:
    return len(_WORD.findall(line))


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


def post_filter(text: str) -> tuple[str, list[str]]:
    """Drop boilerplate lines from trafilatura's text output; return the text and notes."""
    notes: list[str] = []
    lines: list[str] = []
    for raw in _split_cells(text):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("- ") and not _SENTENCE_END.search(line):
            notes.append("html_link_item")
            continue
        if _words(line) < 25 and _BOILERPLATE.search(line):
            notes.append("html_boilerplate_line")
            continue
        lines.append(line)
    lines = _cut_at_end_marker(lines, notes)
    first = next((i for i, ln in enumerate(lines) if _is_prose(ln)), None)
    if first is not None:
        last = max(i for i, ln in enumerate(lines) if _is_prose(ln))
        if first > 0 or last < len(lines) - 1:
            notes.append("html_edge_trim")
        lines = lines[first : last + 1]
    return "\n".join(lines), notes


@dataclass
class HtmlExtract:
    text: str
    title: str | None
    author: str | None
    date: str | None
    language: str | None
    notes: list[str]


def _extract(html: str, tables: bool, metadata: bool, notes: list[str]) -> Any:
    try:
        import trafilatura

        return trafilatura.bare_extraction(html, include_comments=False, include_tables=tables, with_metadata=metadata)
    except Exception as exc:  # trafilatura/lxml on hostile input: treat as "nothing usable"
        notes.append(f"html_error:{type(exc).__name__}")
        return None


def _best_text(html: str, notes: list[str], passes: list[float], meta: bool) -> tuple[Any, str, list[str]]:
    """Run the without-tables and (time allowing) with-tables extraction; keep the better text."""
    t0 = time.perf_counter()
    doc = _extract(html, tables=False, metadata=meta, notes=notes)
    passes.append(time.perf_counter() - t0)
    text, filter_notes = post_filter(getattr(doc, "text", None) or "") if doc is not None else ("", [])
    if "<table" not in html.lower():  # the with-tables pass would give the same text
        return doc, text, filter_notes
    if sum(passes) + max(passes) > EXTRA_PASS_BUDGET_S:
        notes.append("html_extra_pass_skipped")
        return doc, text, filter_notes
    t0 = time.perf_counter()
    tdoc = _extract(html, tables=True, metadata=False, notes=notes)
    passes.append(time.perf_counter() - t0)
    if tdoc is not None:
        ttext, tnotes = post_filter(getattr(tdoc, "text", None) or "")
        if prose_words(ttext) > TABLE_PROSE_RATIO * prose_words(text):
            return doc, ttext, tnotes + ["html_tables"]
    return doc, text, filter_notes


def extract_html(html: str) -> HtmlExtract:
    """Main content and metadata of one page. Never raises; an unusable page gives empty text."""
    notes: list[str] = []
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
    folded = fold_newlines(repaired)
    passes: list[float] = []
    doc, text, filter_notes = _best_text(folded, notes, passes, meta=True)
    if not prose_words(text) and sum(passes) + max(passes) <= EXTRA_PASS_BUDGET_S:
        cut = cut_prologue(folded)
        if cut != folded:
            doc2, text2, notes2 = _best_text(cut, notes, passes, meta=doc is None)
            if prose_words(text2):
                text, filter_notes = text2, notes2 + ["html_prologue_cut"]
                doc = doc if doc is not None else doc2
    if doc is None and not text:
        return HtmlExtract("", None, None, None, None, notes + ["html_no_content"])
    return HtmlExtract(
        text=text,
        title=getattr(doc, "title", None),
        author=getattr(doc, "author", None),
        date=getattr(doc, "date", None),
        language=getattr(doc, "language", None),
        notes=notes + sorted(set(filter_notes)),
    )
