from pathlib import Path

import pytest

from pipeline.clean import clean
from pipeline.entities import EntityResult, extract
from pipeline.event_location import locate, main_location
from schemas import Event, RawArticle

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_6b2718a8a06e0f9d.txt"


@pytest.fixture(scope="module", params=["accurate", "fast"])
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
