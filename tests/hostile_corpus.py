"""Hostile inputs for the raw topic, generated (nothing large is stored in the repository).

Each case is ``(kind, key, value, expect)``: ``expect`` is ``"ok"`` (must come out enriched),
``"dead"`` (must be dead-lettered with a reason) or ``"either"`` (one of the two, never lost).
Every case carries a tracking id ``hostile-<kind>`` in its key, or (for the null key) as its
article ``id``, so a test can find it on the output or dead-letter topic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson

PROSE = (
    "Officials in Nairobi said on Tuesday that talks with the regional bloc would resume next "
    "week after heavy rains forced a delay. The minister told reporters the delegation had met "
    "farmers near the border and promised new funding for roads and clinics. "
)


@dataclass(frozen=True)
class Case:
    kind: str
    key: bytes | None
    value: bytes
    expect: str  # "ok" | "dead" | "either"

    @property
    def track(self) -> str:
        return f"hostile-{self.kind}"


def _art(kind: str, **fields: object) -> bytes:
    doc: dict[str, object] = {
        "id": f"hostile-{kind}",
        "title": f"Hostile case {kind}",
        "source": "hostile",
        "published_at": "2024-03-01T10:00:00Z",
    }
    doc.update(fields)
    return orjson.dumps({k: v for k, v in doc.items() if v is not ...})


def _names(n: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    first = ["John", "Maria", "Ahmed", "Li", "Olga", "Pierre", "Kwame", "Sofia", "Ivan", "Aiko"]
    last = ["Smith", "Garcia", "Khan", "Wang", "Petrova", "Dubois", "Mensah", "Rossi", "Tanaka"]
    places = ["Paris", "Berlin", "Nairobi", "Lagos", "Kyiv", "Moscow", "Tokyo", "Lima", "Cairo"]
    orgs = ["United Nations", "World Bank", "NATO", "European Union", "Red Cross", "IMF"]
    out = []
    for _ in range(n):
        r = rnd.random()
        if r < 0.4:
            out.append(f"{rnd.choice(first)} {rnd.choice(last)}")
        elif r < 0.7:
            out.append(rnd.choice(places))
        else:
            out.append(rnd.choice(orgs))
    return ", ".join(out) + "."


def cases(big_mb: int = 20) -> list[Case]:
    """The corpus. ``big_mb`` is the size of the oversized body (20 MB by default)."""
    rnd = random.Random(1234)
    c: list[Case] = []

    def add(kind: str, value: bytes, expect: str, key: bytes | None | str = "default") -> None:
        k = f"hostile-{kind}".encode() if key == "default" else key
        c.append(Case(kind, k if not isinstance(k, str) else k.encode(), value, expect))

    # --- not JSON / not an object -------------------------------------------------------------
    add("invalid-json", b'{"id": "hostile-invalid-json", "body": "unterminated', "dead")
    add("plain-text", b"Breaking: this is not JSON at all", "dead")
    add("json-array", b"[1, 2, 3]", "dead")
    add("json-string", b'"just a string"', "dead")
    add("json-null", b"null", "dead")
    add("empty-value", b"", "dead")
    add("nan-literal", b'{"id": "hostile-nan-literal", "body": NaN}', "dead")
    add("bom-prefix", b"\xef\xbb\xbf" + _art("bom-prefix", body=PROSE), "either")
    add("trailing-garbage", _art("trailing-garbage", body=PROSE) + b"\x00garbage", "dead")
    # --- wrong types / missing fields ---------------------------------------------------------
    add("wrong-types", orjson.dumps({"id": "hostile-wrong-types", "body": ["a", "b"], "title": {"x": 1}}), "dead")
    add("id-number", orjson.dumps({"id": 12345, "body": PROSE}), "dead")
    add("missing-id", orjson.dumps({"body": PROSE, "title": "no id"}), "dead")
    # A headline alone is news (it is classified); with no title either there is nothing to enrich.
    add("title-only", _art("title-only"), "ok")
    add("missing-body", _art("missing-body", title=None), "dead")
    add("empty-body", _art("empty-body", title="", body=""), "dead")
    add("whitespace-body", _art("whitespace-body", title=" ", body=" \n\t\u00a0\u2003 " * 50), "dead")
    add("duplicate-keys", b'{"id": "hostile-duplicate-keys", "body": "x", "body": ' + orjson.dumps(PROSE) + b"}", "ok")
    add("extra-fields", _art("extra-fields", body=PROSE, unknown={"a": [1, 2, {"b": None}]}, score=1e308), "ok")
    # --- size ---------------------------------------------------------------------------------
    add("huge-body", _art("huge-body", body="A" * (big_mb * 1_000_000)), "dead")
    add("big-prose-under-limit", _art("big-prose-under-limit", body=PROSE * 12_000), "ok")  # ~3 MB
    add("huge-title", _art("huge-title", title="Headline " * 120_000, body=PROSE), "either")
    add("huge-key", _art("huge-key", body=PROSE), "either", key=b"hostile-huge-key" + b"k" * 200_000)
    add("long-id", orjson.dumps({"id": "hostile-long-id" + "x" * 400, "body": PROSE}), "dead")
    # --- bytes and encodings ------------------------------------------------------------------
    add("binary", bytes(rnd.randrange(256) for _ in range(4096)), "dead")
    add("nul-in-json", _art("nul-in-json", body=PROSE + "\u0000" * 100 + PROSE, title="a\u0000b"), "either")
    add("raw-nul-bytes", b"\x00" * 1000, "dead")
    add("invalid-utf8", b'{"id": "hostile-invalid-utf8", "body": "caf\xe9 \xff\xfe ' + PROSE.encode() + b'"}', "dead")
    add("lone-surrogate", b'{"id": "hostile-lone-surrogate", "body": "\\ud800 ' + PROSE.encode() + b'"}', "either")
    add("binary-body", _art("binary-body", body="".join(chr(rnd.randrange(1, 0x2FF)) for _ in range(5000))), "either")
    add(
        "control-chars",
        _art(
            "control-chars",
            body="".join(chr(i) for i in range(1, 32)) * 20 + PROSE,
            title="\u202eevil\u202c \u200b\ufeff title",
        ),
        "either",
    )
    # --- structure ----------------------------------------------------------------------------
    add(
        "deep-json",
        b'{"id": "hostile-deep-json", "body": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "dead",
    )
    add("deep-json-ok", _art("deep-json-ok", body=PROSE, extra=orjson.loads(b"[" * 200 + b"]" * 200)), "ok")
    add("entity-flood", _art("entity-flood", body=_names(20_000)), "either")
    add(
        "html-deep-nesting",
        _art("html-deep-nesting", body=None, html="<div>" * 200_000 + PROSE + "</div>" * 200_000),
        "either",
    )
    add(
        "html-huge-attribute",
        _art(
            "html-huge-attribute", html=f'<html><body><a href="{"x" * 3_000_000}">link</a><p>{PROSE}</p></body></html>'
        ),
        "either",
    )
    add("html-many-tags", _art("html-many-tags", html="<p>" + "<b>a</b>" * 300_000 + "</p>"), "either")
    add(
        "html-script-only",
        _art("html-script-only", title=None, html="<script>" + "alert(1);" * 10_000 + "</script>"),
        "dead",
    )
    add(
        "html-entities-bomb",
        _art("html-entities-bomb", html="<p>" + "&amp;&#x10FFFF;&#0;&bogus;" * 50_000 + PROSE + "</p>"),
        "either",
    )
    add("html-unclosed", _art("html-unclosed", html="<html><body><p>" + PROSE + "<table><tr><td><p"), "either")
    # --- languages and scripts ----------------------------------------------------------------
    add(
        "arabic-rtl",
        _art(
            "arabic-rtl",
            title="عاجل: محادثات في القاهرة",
            body="قال مسؤولون في القاهرة يوم الثلاثاء إن المحادثات ستستأنف. " * 10,
        ),
        "ok",
    )
    add("hebrew-rtl", _art("hebrew-rtl", body="פקידים בירושלים אמרו ביום שלישי כי השיחות יתחדשו. " * 10), "ok")
    add("chinese", _art("chinese", body="北京官员周二表示，谈判将于下周恢复。" * 20), "ok")
    add("emoji", _art("emoji", title="🔥🔥 Breaking 👩‍👩‍👧‍👦", body=("🇺🇦🇷🇺 " + PROSE + " 😀🙏🏽 ") * 5), "ok")
    add("zalgo", _art("zalgo", body="".join(ch + "\u0301\u0336\u0489" * 8 for ch in PROSE * 3)), "either")
    # --- ids, dates, keys ---------------------------------------------------------------------
    add(
        "id-path-traversal",
        orjson.dumps({"id": "../../etc/passwd", "body": PROSE}),
        "ok",
        key=b"hostile-id-path-traversal",
    )
    add(
        "id-slashes-newlines",
        orjson.dumps({"id": "a/b\\c\n..\r\n/../x\x00y", "body": PROSE}),
        "ok",
        key=b"hostile-id-slashes-newlines",
    )
    add(
        "key-path-traversal",
        _art("key-path-traversal", body=PROSE),
        "ok",
        key=b"../../../../tmp/hostile-key-path-traversal\n",
    )
    add("impossible-date", _art("impossible-date", body=PROSE, published_at="2023-02-30T25:61:00Z"), "dead")
    add("year-zero-date", _art("year-zero-date", body=PROSE, published_at="0000-00-00"), "dead")
    add("far-future-date", _art("far-future-date", body=PROSE, published_at="9999-12-31T23:59:59Z"), "ok")
    add("epoch-huge-date", _art("epoch-huge-date", body=PROSE, published_at=10**18), "dead")
    huge_int = b'"n": 1' + b"0" * 5000 + b', "source"'
    add("huge-int", _art("huge-int", body=PROSE).replace(b'"source"', huge_int), "either")
    add("null-key", _art("null-key", body=PROSE), "ok", key=None)
    add("url-javascript", _art("url-javascript", body=PROSE, url="javascript:alert(1)//\n../../x"), "ok")
    add("numbers-only", _art("numbers-only", body="1234567890 " * 500), "either")
    return c


def track_of(case: Case) -> str:
    return case.track
