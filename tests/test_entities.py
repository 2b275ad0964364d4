from pathlib import Path

import pytest

from pipeline.clean import clean
from pipeline.entities import EntityResult, extract
from pipeline.event_location import locate, main_location
from schemas import Event, RawArticle

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_6b2718a8a06e0f9d.txt"


@pytest.fixture(scope="module", params=["balanced", "accurate", "fast"])
def seed(request):
    raw = SEED.read_text(encoding="utf-8")
    title, _, body = raw.partition("\n")
    text = clean(RawArticle(id="seed", title=title, body=body)).text
    return text, extract(text, mode=request.param)


def test_offsets_point_into_text(seed):
    text, res = seed
    assert res.mentions
    for m in res.mentions:
        assert text[m.start : m.end] == m.text


def test_seed_places(seed):
    _, res = seed
    places = {e.name: e.place for e in res.index if e.place is not None and e.label == "GPE"}
    for name, cc in [
        ("Russia", "RU"),
        ("Turkey", "TR"),
        ("Syria", "SY"),
        ("Idlib", "SY"),
        ("Moscow", "RU"),
        ("Ankara", "TR"),
        ("Aleppo", "SY"),
        ("Damascus", "SY"),
    ]:
        assert name in places, name
        assert places[name].country == cc
        assert places[name].geonameid
    assert places["Moscow"].is_capital and places["Ankara"].is_capital
    assert places["Damascus"].is_capital and not places["Idlib"].is_capital
    assert places["Idlib"].feature == "city"


def test_m4_highway_is_loc(seed):
    text, res = seed
    m4 = [m for m in res.mentions if m.text == "M4 highway"]
    assert m4 and all(m.label == "LOC" for m in m4)


def test_main_location_is_idlib_syria(seed):
    _, res = seed
    country, loc = main_location(res)
    assert country == "SY"
    assert loc is not None and loc.name == "Idlib"


def test_locate_from_mentions_and_index_only(seed):
    _, res = seed
    rebuilt = EntityResult(mentions=res.mentions, index=res.index, places={})
    ev = locate(Event(type="Battles", score=0.9), rebuilt)
    assert ev.country == "SY" and ev.location.name == "Idlib"
    assert abs(ev.location.lat - 35.93) < 0.1
    assert locate(None, rebuilt) is None


def test_person_canonical_and_counts():
    text = (
        "Russian President Vladimir Putin met Recep Tayyip Erdogan in Moscow on Thursday. "
        "Putin said the ceasefire would hold. Erdogan agreed, and Putin left for Sochi."
    )
    res = extract(text, mode="accurate")
    putin = [m for m in res.mentions if m.text in ("Putin", "Vladimir Putin")]
    assert len(putin) == 3 and {m.canonical for m in putin} == {"Vladimir Putin"}
    entry = next(e for e in res.index if e.name == "Vladimir Putin")
    assert entry.label == "PERSON" and entry.mentions == 3
    assert 0.0 <= entry.salience <= 1.0
    assert entry.salience >= max(e.salience for e in res.index if e.name != "Vladimir Putin") - 1e-9
    assert any(m.label == "NORP" and m.text == "Russian" for m in res.mentions)
    assert any(m.label == "DATE" and m.text == "Thursday" for m in res.mentions)


def test_org_and_gpe_labels():
    res = extract(
        "The United Nations and the World Health Organization met officials in Geneva, Switzerland.", mode="accurate"
    )
    labels = {m.text: m.label for m in res.mentions}
    assert labels.get("United Nations") == "ORG"
    assert labels.get("World Health Organization") == "ORG"
    assert labels.get("Geneva") == "GPE" and labels.get("Switzerland") == "GPE"


def test_context_disambiguates_same_name():
    # Tripoli in Lebanon when the article is about Lebanon, the Libyan capital otherwise.
    lb = extract("Protesters blocked roads in Tripoli, the second city of Lebanon, near Beirut.")
    ly = extract("Fighting resumed south of Tripoli as forces loyal to Haftar advanced across Libya.")
    assert main_location(lb)[0] == "LB"
    assert main_location(ly)[0] == "LY"


def test_acled_style_note_without_country_name():
    res = extract("On 7 May 2020, Boko Haram attacked the village of Gwoza (Gwoza LGA, Borno), killing two residents.")
    country, loc = main_location(res)
    assert country == "NG"
    assert loc is not None and abs(loc.lat - 11.08) < 0.5


def test_empty_text():
    res = extract("")
    assert res.mentions == [] and res.index == []
    assert main_location(res) == (None, None)


@pytest.mark.parametrize("mode", ["accurate", "fast"])
def test_actor_cue_places_unknown_village(mode):
    res = extract("On 3 May 2020, the OSCE SMM observed a total of 2 explosions near Xyzivka.", mode=mode)
    assert main_location(res)[0] == "UA"


def test_foreign_forces_do_not_win():
    text = (
        "On 5 May 2020, PKK militants attacked Turkish army units positioned in Haftanin region "
        "of Dahuk, Northern Iraq."
    )
    assert main_location(extract(text))[0] == "IQ"


def test_molotov_cocktail_is_not_perm():
    res = extract("On 3 May 2020, rioters hurled a Molotov cocktail at a bank branch in Beirut.")
    assert main_location(res)[0] == "LB"
    assert not any(e.place and e.place.country == "RU" for e in res.index)


def test_dominant_namesake_wins_without_context():
    # Berat: 62,000 people in Albania, a hamlet in France; nothing else in the text names a country.
    res = extract("On 7 May 2020, about 30 employees of textile businesses held a protest in Berat.")
    assert main_location(res)[0] == "AL"


def test_event_place_uses_prior_only_when_gazetteer_is_silent_or_prior_is_sure():
    from pipeline.country_prior import PRIOR_OVERRIDE, PRIOR_THRESHOLD
    from pipeline.event_location import event_place

    silent = extract("On 28 April 2020, protesters blocked the Qwertyville highway in both directions.")
    assert main_location(silent) == (None, None)
    country, loc = event_place(silent, "x", prior=lambda _t: ("LB", PRIOR_THRESHOLD))
    assert country == "LB" and loc is not None and loc.name == "Lebanon"
    assert event_place(silent, "x", prior=lambda _t: ("LB", PRIOR_THRESHOLD - 0.01)) == (None, None)

    tripoli = extract("Fighting resumed south of Tripoli as forces loyal to Haftar advanced across Libya.")
    assert event_place(tripoli, "x", prior=lambda _t: ("LB", PRIOR_OVERRIDE - 0.01))[0] == "LY"
    assert event_place(tripoli, "x", prior=lambda _t: ("LB", PRIOR_OVERRIDE))[0] == "LB"


def test_country_name_tagged_misc_is_a_place():
    res = extract("Rebels attacked an army base in northern Mali on Tuesday.", mode="accurate")
    assert main_location(res)[0] == "ML"


# --------------------------------------------------------------------------- modes, model, language


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown entity mode"):
        extract("Officials met in Paris.", mode="turbo")


@pytest.mark.parametrize("mode", ["balanced", "accurate"])
def test_missing_model_is_a_loud_error_naming_the_path(tmp_path, monkeypatch, mode):
    import pipeline.entities as ent

    missing = tmp_path / "no_model_here"
    monkeypatch.setitem(ent.MODEL_DIRS, mode, missing)
    ent._nlp.cache_clear()
    ent._tagger.cache_clear()
    try:
        with pytest.raises(ent.NerModelError, match=str(missing)):
            extract("Officials met in Paris.", mode=mode)
        # rules only when asked for: fast mode needs no model
        assert any(m.text == "Paris" for m in extract("Officials met in Paris.", mode="fast").mentions)
    finally:
        ent._nlp.cache_clear()
        ent._tagger.cache_clear()


@pytest.mark.parametrize("mode", ["balanced", "accurate"])
def test_broken_model_is_a_loud_error_naming_the_path(tmp_path, monkeypatch, mode):
    import pipeline.entities as ent

    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "config.cfg").write_text("[nlp]\nlang = \n")
    monkeypatch.setitem(ent.MODEL_DIRS, mode, broken)
    ent._nlp.cache_clear()
    ent._tagger.cache_clear()
    try:
        with pytest.raises(ent.NerModelError, match="cannot be loaded"):
            ent.load(mode)
    finally:
        ent._nlp.cache_clear()
        ent._tagger.cache_clear()


@pytest.mark.parametrize("mode", ["balanced", "accurate", "fast"])
def test_language_without_a_model_abstains(mode):
    text = "Anfang Mai legte das Kreuzfahrtschiff in Hamburg an. Die Impfstoffe kamen aus Mainz."
    res = extract(text, mode=mode, language="de")
    assert res.mentions == [] and res.index == [] and res.places == {}
    assert res.abstention is not None and "'de'" in res.abstention
    assert extract("Officials met in Paris.", mode=mode, language="en").abstention is None


@pytest.mark.parametrize("mode", ["balanced", "accurate"])
def test_french_text_is_tagged_by_the_french_model(mode):
    text = (
        "Le président Emmanuel Macron a rencontré Olaf Scholz à Berlin mardi, tandis que la "
        "Commission européenne saluait l'accord conclu à Bruxelles."
    )
    res = extract(text, mode=mode, language="fr")
    assert res.abstention is None
    got = {(m.text, m.label) for m in res.mentions}
    assert {("Emmanuel Macron", "PERSON"), ("Olaf Scholz", "PERSON"), ("Berlin", "GPE")} <= got
    bruxelles = next(e for e in res.index if e.label == "GPE" and e.place and e.place.country == "BE")
    assert bruxelles.place is not None and bruxelles.place.geonameid is not None
    assert "fr_core_news_sm" in {m.name for m in res.models}
    # English text keeps the English tagger and does not name the French one.
    english = extract("Officials met in Paris.", mode=mode, language="en")
    assert "fr_core_news_sm" not in {m.name for m in english.models}


def test_french_text_abstains_in_the_rules_mode():
    res = extract("Le président Emmanuel Macron a parlé à Berlin.", mode="fast", language="fr")
    assert res.mentions == [] and res.abstention is not None and "'fr'" in res.abstention


@pytest.mark.parametrize("mode", ["balanced", "accurate", "fast"])
def test_batch_equals_one_by_one(mode):
    from pipeline.entities import extract_batch

    texts = [
        "Russian President Vladimir Putin met Recep Tayyip Erdogan in Moscow on Thursday.",
        "Die Regierung in Berlin.",
        "Protesters blocked roads in Tripoli, the second city of Lebanon, near Beirut.",
        "Le Premier ministre a rencontré les syndicats à Marseille.",
    ]
    langs = ["en", "de", None, "fr"]
    batch = extract_batch(texts, mode=mode, languages=langs)
    for text, lang, res in zip(texts, langs, batch, strict=True):
        one = extract(text, mode=mode, language=lang)
        assert [(m.start, m.end, m.label) for m in res.mentions] == [(m.start, m.end, m.label) for m in one.mentions]
        assert res.abstention == one.abstention


def test_long_text_is_tagged_in_pieces_with_true_offsets():
    from pipeline.entities import CHUNK_CHARS, _chunks

    line = "Officials of the United Nations met in Geneva on Monday.\n"
    text = line * (3 * CHUNK_CHARS // len(line)) + "x" * (CHUNK_CHARS + 7) + " tail"
    pieces = list(_chunks(text))
    assert "".join(p for _, p in pieces) == text
    assert all(len(p) <= CHUNK_CHARS for _, p in pieces)
    assert all(text[off : off + len(p)] == p for off, p in pieces)
    res = extract(text, mode="accurate")
    genevas = [m for m in res.mentions if m.text == "Geneva"]
    assert len(genevas) == text.count("Geneva")
    assert all(text[m.start : m.end] == m.text for m in res.mentions)


def test_lower_and_upper_case_text_keep_entities():
    text = "Vladimir Putin met Angela Merkel in Berlin on Friday, the Kremlin said."
    for variant in (text.lower(), text.upper()):
        res = extract(variant, mode="accurate")
        found = {variant[m.start : m.end].lower() for m in res.mentions}
        assert {"vladimir putin", "angela merkel", "berlin"} <= found, (variant, found)


# --------------------------------------------------------------------------- linear work (issue 15)


def _line_events(fn) -> int:
    """Python lines executed inside ``pipeline/`` while ``fn`` runs: a deterministic measure of work
    (the same input always gives the same count), so scaling is checked without timing."""
    import sys

    import pipeline

    root = str(Path(pipeline.__file__).resolve().parent)
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(root) else None

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


HOSTILE = {
    "breaking": lambda n: ("BREAKING NEWS " * (n // 14 + 1))[:n],
    "capitalised": lambda n: " ".join(f"Word{k % 97} Town{k % 89}" for k in range(n // 15 + 1))[:n],
    "possessives": lambda n: " ".join("Syria'sIdlib" for _ in range(n // 13 + 1))[:n],
    "places": lambda n: " ".join(
        f"Clashes in Aleppo{k} near Idlib (Ariha, Saraqib) on {k % 28 + 1} May." for k in range(n // 60 + 1)
    )[:n],
}


@pytest.mark.parametrize("mode", ["fast", "accurate"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_extraction_work_grows_linearly(kind, mode):
    make = HOSTILE[kind]
    extract("warm-up in Paris", mode=mode)
    small = _line_events(lambda: extract(make(3_000), mode=mode))
    large = _line_events(lambda: extract(make(12_000), mode=mode))
    # 4x the text: linear work is ~4x the lines (quadratic would be ~16x).
    assert large <= 5.5 * small, (kind, mode, small, large)


def test_patterns_have_bounded_reach():
    """Repetition in every pattern is bounded, so a long run of capitalised words costs each match
    attempt a bounded amount of backtracking (quadratic time before)."""
    from pipeline.entities import _lexicon

    lex = _lexicon()
    run = " ".join(f"Word{k}" for k in range(500))
    m = lex.name_span.search(run)
    assert m is not None and len(m.group(0).split()) <= 8
    m = lex.place_syntax.search(run + " village")
    assert m is not None and len(m.group(3).split()) <= 6
    m = lex.place_syntax.search("in " + ", ".join(f"Town{k}" for k in range(100)))
    assert m is not None and m.group(1).count(",") <= 9


def test_long_tagged_spans_are_not_names():
    from pipeline.entities import MAX_NAME_CHARS

    text = "BREAKING NEWS " * 400
    for mode in ("balanced", "accurate", "fast"):
        assert all(m.end - m.start <= MAX_NAME_CHARS for m in extract(text, mode=mode).mentions)


def test_the_tagger_runs_on_numpy_blas_with_the_entities_of_the_default_ops(seed_text: str) -> None:
    """``pipeline.entities._blas``: loaded with numpy's BLAS instead of thinc's blis, for speed only."""
    import spacy

    from pipeline import entities as E

    nlp = E._nlp("balanced")
    assert nlp.get_pipe("ner").model.ops.use_blis is False
    default = spacy.load(E.MODEL_DIRS["balanced"])
    assert default.get_pipe("ner").model.ops.use_blis is True
    default.tokenizer = nlp.tokenizer
    texts = [seed_text, seed_text.lower(), "Angela Merkel met Emmanuel Macron in Berlin on Monday, Reuters said."]
    for ours, theirs in zip(nlp.pipe(texts), default.pipe(texts), strict=True):
        assert [(e.start_char, e.end_char, e.label_) for e in ours.ents] == [
            (e.start_char, e.end_char, e.label_) for e in theirs.ents
        ]
        assert ours.ents
