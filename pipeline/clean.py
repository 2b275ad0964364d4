"""Clean stage: turn a raw article (plain text or HTML) into the text every later stage sees.

``clean(raw)`` is pure (no I/O, no network) and returns a ``CleanResult``. It raises only
``ValueError`` and only when nothing usable is left (empty, binary-looking or content-free input);
``enrich.clean_step`` dead-letters on that.

* HTML (``raw.html``, or a ``body`` that is really an HTML document): main content, title, author,
  date and language via trafilatura plus our fixes, see ``pipeline.clean_html``.
* Plain text: boilerplate lines dropped (read-time lines, share/follow prompts, "Related" blocks,
  newsletter prompts, photo captions and credits, repeated title or standfirst lines), glued words
  split ("Syria'sIdlib"; CamelCase names such as McDonald, iPhone, YouTube are kept), mojibake
  repaired with ftfy, Unicode NFC and whitespace normalised, a dateline ("23 March, 2020") taken as
  ``published_at`` when the producer gave none. Every rule that fires leaves a word in ``notes``.
* Language: py3langid on the cleaned text (deterministic); non-English text flows on
  with ``language`` set and a ``non_english`` note.

Time bound: input is cut before any parsing to ``MAX_HTML_CHARS`` (2,000,000) characters of HTML
and ``clean_html.MAX_TAGS`` (30,000) tags, and to ``MAX_TEXT_CHARS`` (200,000) characters of text;
language detection reads at most 2,000 characters, so one call is bounded whatever the input (the
worst cases measured are in README "Clean stage"). The HTML side runs one extraction pass, plus a
retry with the document prologue cut when nothing was found, or a precision pass on a page with
teasers (``pipeline.clean_teasers``), each only when twice the first pass's time fits in
``clean_html.EXTRA_PASS_BUDGET_S`` (2.5 s); otherwise the extra pass is skipped (note
``html_extra_pass_skipped``). tests/test_clean.py checks the bound on hostile inputs.

Every line a rule drops is recorded in ``CleanResult.removals`` (rule, characters, first 60
characters), so a reader who misses a paragraph can see which rule took it. A brief is never rejected:
an item whose only lines the boilerplate rules would take is kept as sent, and a headline-only item
gets its title as text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

import ftfy

from pipeline.clean_html import MAX_HTML_CHARS, Candidates, extract_html
from schemas import RawArticle

MAX_TEXT_CHARS = 200_000


@dataclass
class Removal:
    """One span the clean stage dropped: the rule that did it, its size and how it began."""

    rule: str
    chars: int
    preview: str = ""


PREVIEW_CHARS = 60


def removal(rule: str, text: str) -> Removal:
    return Removal(rule=rule, chars=len(text), preview=text[:PREVIEW_CHARS])


@dataclass
class CleanResult:
    title: str | None
    text: str
    language: str | None
    published_at: datetime | None
    author: str | None = None
    notes: list[str] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Line rules. Each is applied to one stripped line.

_READ_TIME = re.compile(
    r"^(?:reading time:?\s*)?(?:about\s+)?\d+\s*(?:-\s*)?(?:min|mins|minute|minutes)(?:\s+read|\s+reading)?"
    r"(?:\s+read)?$|^(?:reading time|read time):?\s*\d+\s*(?:min|mins|minutes?)$",
    re.I,
)
_SHARE = re.compile(
    r"^(?:share|tweet|e-?mail|print|copy link|pin it|whatsapp)(?:\s+(?:this|the|on|via|article|story|page|"
    r"facebook|twitter|x|linkedin|whatsapp|e-?mail|link)\b.*)?[.:!]?$|"
    r"^(?:share|post)\s+(?:this|on)\b.{0,60}$|"
    r"^(?:follow|like)\s+(?:us|me|@\w+|\w+\s+on)\b.{0,80}$|"
    r"^click (?:here )?to (?:share|follow|tweet|email)\b.{0,60}$|"
    r"^(?:facebook|twitter|linkedin|whatsapp|reddit|e-?mail)(?:\s*[|,/·•]\s*(?:facebook|twitter|x|linkedin|"
    r"whatsapp|reddit|e-?mail|print|copy link))+$",
    re.I,
)
# A share/follow prompt is a short line; a longer one that starts "Share ..." is a sentence.
MAX_PROMPT_CHARS = 60
_NEWSLETTER = re.compile(
    r"\b(?:sign(?:\s|-)?up|subscribe|register)\b.{0,60}\bnewsletters?\b|"
    r"\bnewsletters?\b.{0,60}\b(?:sign(?:\s|-)?up|subscribe|inbox)\b|"
    r"\bdelivered (?:straight |directly )?to your inbox\b|^subscribe(?: now| today| here)?[.!]?$",
    re.I,
)
_RELATED_HEADER = re.compile(
    r"^(?:related(?:\s+(?:articles?|stories|content|coverage|news|links|reading))?|read more|read also|"
    r"also read|see also|more on this(?: story)?|more from [\w ]{1,30}|you may also like|recommended|"
    r"most read|trending)\s*[:.\-–—]?\s*(?P<rest>.*)$",
    re.I,
)
_CREDIT_WORDS = (
    r"getty(?: images)?|afp|reuters|ap|associated press|epa(?:-efe)?|anadolu(?: agency)?|pa(?: media| wire)?|"
    r"shutterstock|alamy|bloomberg|xinhua|efe|sipa|rex|file|supplied|handout|social media"
)
# "... [Getty]", "... (AFP)", "... (Photo by J. Doe/Getty Images)" at the end of a line.
_CAPTION_END = re.compile(
    r"[\[(](?:(?:photo|image|picture|photograph|credit|file photo)s?(?:\s+by)?\s*:?\s*)?[^\[\]()]{0,60}?"
    r"(?:" + _CREDIT_WORDS + r")(?:\s*(?:via|/)\s*[^\[\]()]{0,40})?[\])]\s*$",
    re.I,
)
# "Photo: AFP", "Image: Reuters/John Doe", "Photograph: Getty Images", "Credit: ..."
_CAPTION_LABEL = re.compile(
    r"(?:^|[.\s])(?:photo|image|picture|photograph|credit|photo credit|illustration)s?\s*:\s*"
    r"[^.!?]{1,60}$",
    re.I,
)
_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTHS = (
    {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
    | {m[:3]: i for i, m in enumerate(_MONTH_NAMES, start=1)}
    | {"sept": 9}
)
_MONTH_RE = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PREFIX = (
    r"^(?:(?:published|updated|last updated|posted|first published)(?: on)?\s*:?\s*)?"
    r"(?:(?:mon|tue|tues|wed|thu|thurs|fri|sat|sun)[a-z]*,?\s+)?"
)
_TIME_SUFFIX = r"(?:\s*(?:[,|-]|at)?\s*\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?)?\s*$"
_DATELINE_DMY = re.compile(
    _DATE_PREFIX + r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r",?\s+(?P<year>\d{4})" + _TIME_SUFFIX, re.I
)
_DATELINE_MDY = re.compile(
    _DATE_PREFIX + _MONTH_RE + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+"
    r"(?P<year>\d{4})" + _TIME_SUFFIX,
    re.I,
)
_DATELINE_ISO = re.compile(_DATE_PREFIX + r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})" + _TIME_SUFFIX, re.I)

# Glued words. "Syria'sIdlib": a possessive directly followed by a capitalised word.
_GLUED_POSSESSIVE = re.compile(r"(?<=[a-z])(['’]s)(?=[A-Z][a-z])")
# "provinceMoscow": a word that starts lower-case, has at least three lower-case letters, then a
# capitalised word. Names are CamelCase with a capital or a one/two-letter prefix (McDonald, iPhone,
# eBay, YouTube, JavaScript, MacBook) and so never match.
_GLUED_LOWER_UPPER = re.compile(r"\b([a-z][a-z]{2,})(?=[A-Z][a-z])")
# "said.The": a sentence end glued to the next sentence (not "U.S.A" or "e.g." or "Node.js").
_GLUED_SENTENCE = re.compile(r"(?<=[a-z]{2}[.!?])(?=[A-Z][a-z]{2,}\b)")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_HTML_SNIFF = re.compile(r"^\s*(?:<!doctype html|<html\b|<head\b|<body\b)|<(?:p|div|br|article)\b[^>]*>", re.I)


def _parse_dateline(line: str) -> datetime | None:
    if len(line) > 60:
        return None
    for rx in (_DATELINE_DMY, _DATELINE_MDY, _DATELINE_ISO):
        m = rx.match(line)
        if not m:
            continue
        month_s = m.group("month").lower().rstrip(".")
        month = int(month_s) if month_s.isdigit() else _MONTHS.get(month_s)
        try:
            return datetime(int(m.group("year")), month or 0, int(m.group("day")), tzinfo=UTC)
        except ValueError:
            return None
    return None


def _normalise(text: str) -> str:
    """Mojibake repair, NFC, unified newlines, no control characters, collapsed spaces."""
    text = ftfy.fix_text(text, normalization="NFC", uncurl_quotes=False)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = _CONTROL.sub("", text)
    text = re.sub(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+", " ", text)
    return text


def _key(line: str) -> str:
    return re.sub(r"\W+", " ", line.casefold()).strip()


def split_glued(line: str) -> str:
    line = _GLUED_POSSESSIVE.sub(r"\1 ", line)
    line = _GLUED_LOWER_UPPER.sub(r"\1 ", line)
    return _GLUED_SENTENCE.sub(" ", line)


def _looks_binary(text: str) -> bool:
    sample = text[:20_000]
    if not sample:
        return False
    bad = sum(1 for ch in sample if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\r\t"))
    return bad / len(sample) > 0.05


def _is_caption(line: str) -> bool:
    if len(line) > 300:
        return False
    return bool(_CAPTION_END.search(line) or _CAPTION_LABEL.search(line))


def _is_listish(line: str) -> bool:
    """A short headline-like line: what a "Related" block is made of."""
    words = len(line.split())
    return words <= 20 and not re.search(r"[.!?\"”]$", line) or bool(re.match(r"^[-•*·▪►>]\s", line))


def clean_lines(
    lines: list[str],
    title: str | None,
    notes: list[str],
    removals: list[Removal] | None = None,
    related_blocks: bool = True,
    glued: bool = True,
) -> tuple[list[str], datetime | None]:
    """Apply the line rules; returns kept paragraphs and a dateline date (if any).

    ``related_blocks=False`` leaves "Related:" headers and the list lines after them alone: the HTML
    path has its own cross-link rule, and on modern pages such a header is as often a heading of the
    article (README "Clean stage" has the measurement). ``glued=False`` leaves words glued by
    scraping ("Syria'sIdlib") as they are: text from a DOM has its spaces, and the split breaks
    real names ("iPhone", "DeSantis", "kaZuma").

    Every dropped line is noted by rule name in ``notes`` and, when ``removals`` is given, recorded
    there with its length and first characters, so a reader can see which rule took what."""
    kept: list[str] = []
    seen: set[str] = set()
    if title:
        seen.add(_key(title))
    published: datetime | None = None
    in_related = False

    def drop(rule: str, line: str) -> None:
        notes.append(rule)
        if removals is not None:
            removals.append(removal(rule, line))

    for line in lines:
        if not line:
            in_related = False
            continue
        key = _key(line)
        if in_related and _is_listish(line):
            drop("related", line)
            continue
        in_related = False
        if not key:
            continue
        if key in seen and len(line.split()) <= 60:
            drop("repeated_line", line)
            continue
        if _READ_TIME.match(line):
            drop("read_time", line)
            continue
        if len(line) <= MAX_PROMPT_CHARS and _SHARE.match(line):
            drop("share_prompt", line)
            continue
        if len(line) <= 300 and _NEWSLETTER.search(line):
            drop("newsletter", line)
            continue
        related = _RELATED_HEADER.match(line) if related_blocks else None
        if related and (not related.group("rest") or _is_listish(related.group("rest"))):
            drop("related", line)
            in_related = True
            continue
        date = _parse_dateline(line)
        if date is not None:
            published = published or date
            drop("dateline", line)
            continue
        if _is_caption(line):
            drop("photo_caption", line)
            continue
        fixed = split_glued(line) if glued else line
        if fixed != line:
            notes.append("glued_words")
        seen.add(key)
        kept.append(fixed)
    return kept, published


def clean_plain(title: str | None, body: str) -> CleanResult:
    notes: list[str] = []
    if len(body) > MAX_TEXT_CHARS:
        body = body[:MAX_TEXT_CHARS]
        notes.append("text_truncated")
    lines = [ln.strip() for ln in _normalise(body).split("\n")]
    title = _normalise(title).strip() if title else None
    if not title:
        # Plain text without a title: a short first line that does not read as a sentence is it.
        first = next((i for i, ln in enumerate(lines) if ln), None)
        if first is not None and len(lines[first].split()) <= 25 and not lines[first].endswith("."):
            title = lines[first]
            lines = lines[first + 1 :]
            notes.append("title_from_first_line")
    removals: list[Removal] = []
    kept, published = clean_lines(lines, title, notes, removals)
    if not kept:
        # A brief: the rules above are for boilerplate around an article, and here they took the
        # article itself (a one-line item equal to its title, a flash that reads like a caption).
        # Every line of prose is news, so keep the item as sent.
        kept = [split_glued(ln) for ln in lines if _key(ln)]
        if kept:
            notes.append("short_item_kept")
            removals.clear()
    text = "\n\n".join(kept)
    return CleanResult(
        title=title or None,
        text=text,
        language=None,
        published_at=published,
        notes=_dedupe(notes),
        removals=removals,
    )


def clean_html(html: str, candidates: Candidates | None = None) -> CleanResult:
    ex = extract_html(html, candidates=candidates)
    title = _normalise(ex.title).strip() if ex.title else None
    notes = list(ex.notes)
    removals = [removal(rule, line) for rule, line in ex.removals]
    lines = [ln.strip() for ln in _normalise(ex.text[:MAX_TEXT_CHARS]).split("\n")]
    kept, dateline = clean_lines(lines, title, notes, removals, related_blocks=False, glued=False)
    author = _normalise(ex.author).strip() if ex.author else None
    return CleanResult(
        title=title or None,
        text="\n\n".join(kept),
        language=ex.language,
        published_at=ex.published or dateline,
        author=author or None,
        notes=_dedupe(notes),
        removals=removals,
    )


def _dedupe(notes: list[str]) -> list[str]:
    return list(dict.fromkeys(notes))


def detect_language(text: str) -> str | None:
    """ISO 639 code from py3langid (a naive Bayes model over byte n-grams, deterministic), or None
    for too little text. The first 600 characters are plenty for a news article."""
    sample = text[:600]
    if len(re.findall(r"\w+", sample)) < 4:
        return None
    import py3langid

    return str(py3langid.classify(sample)[0])


def clean(raw: RawArticle, candidates: Candidates | None = None) -> CleanResult:
    """Clean one article; raises ``ValueError`` only when nothing usable is left.

    An item that is only a headline (a flash, "BREAKING: ..." with no body) is news too: its title
    becomes its text (note ``text_from_title``)."""
    body = raw.body or ""
    html = raw.html or ""
    title = _normalise(raw.title).strip() if raw.title else ""
    if body.strip() and _looks_binary(body):
        raise ValueError("body looks binary")
    if body.strip() and _HTML_SNIFF.search(body[:2000]):
        html, body = body, ""
    if body.strip():
        result = clean_plain(raw.title, body)
    elif html.strip():
        if _looks_binary(html[:MAX_HTML_CHARS]):
            raise ValueError("html looks binary")
        result = clean_html(html, candidates)
        if title:
            result.title = title
    elif title:
        result = CleanResult(title=title, text="", language=None, published_at=None)
    else:
        raise ValueError("article has neither body nor html")
    if not result.text.strip() and result.title and (title or not html.strip()):
        result.text = result.title
        result.notes.append("text_from_title")
    if not result.text.strip():
        raise ValueError("no article text left after cleaning")
    if raw.published_at is not None:
        result.published_at = raw.published_at
    page_language = result.language
    result.language = detect_language(result.text) or page_language
    if result.language and result.language != "en":
        result.notes.append("non_english")
    return result
