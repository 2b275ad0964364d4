"""Event location: the place the event sentence names, not only the most salient one."""

from __future__ import annotations

from pipeline.entities import extract
from pipeline.event_location import _sentence_names, event_place, event_sentence, main_location, sentence_location
from pipeline.geo import haversine_km


def _no_prior(_text: str) -> tuple[str | None, float]:
    return None, 0.0


def test_event_sentence_is_the_one_with_event_words():
    text = "Officials met in Damascus on Monday. On Tuesday, shelling killed three people in Kafr Nabl."
    span = event_sentence(text)
    assert span is not None and text[span[0] : span[1]].startswith("On Tuesday, shelling")
    assert event_sentence("The weather was fine. Markets opened.") is None


def test_location_comes_from_the_event_sentence():
    text = (
        "Damascus officials met in Damascus on Monday and Damascus television said the talks in Damascus went well. "
        "On Tuesday, shelling killed three people in Homs."
    )
    res = extract(text, mode="fast")
    assert main_location(res)[1].name == "Damascus"  # the most salient place
    country, loc = event_place(res, text, prior=_no_prior)
    assert country == "SY" and loc is not None and loc.name == "Homs"
    assert loc.place_id == f"geonames:{loc.geonameid}"
    assert event_place(res, text, prior=_no_prior, use_sentence=False)[1].name == "Damascus"


def test_place_syntax_counts_even_when_the_tagger_missed_it():
    text = "On 4 May 2020, in Leon de los Aldama, Guanajuato, two police officers were shot and injured."
    res = extract(text, mode="fast")
    span = event_sentence(text)
    assert span is not None
    country, loc = sentence_location(res, text, span)
    assert country == "MX" and loc is not None and loc.name.startswith("Le")


def test_no_place_no_guess():
    text = "On Tuesday, protesters blocked a road near the Qwertyville junction."
    res = extract(text, mode="fast")
    assert event_place(res, text, prior=_no_prior) == (None, None)


def test_the_lead_sentence_wins_a_near_tie_for_the_event_sentence():
    text = (
        "On 6 May 2020, around 20 people protested in Mogilev, demanding the release of a blogger. The "
        "blogger was arrested on the same day for covering a Minsk demonstration against integration with Russia."
    )
    span = event_sentence(text)
    assert span is not None and span[0] == 0  # one event word against two, but the lead reports the event
    country, _ = event_place(extract(text, mode="fast"), text, prior=_no_prior)
    assert country == "BY"


def test_a_name_inside_a_longer_place_name_is_not_the_place():
    text = "On 5 May 2020, in Port of Spain city, a man was shot and wounded by five masked gunmen."
    res = extract(text, mode="balanced")
    assert "Spain" in {m.text for m in res.mentions}  # the tagger's reading: the country inside the name
    country, loc = event_place(res, text, prior=_no_prior)
    assert country == "TT" and loc is not None and loc.name == "Port of Spain"


def test_a_town_named_in_the_event_sentence_outweighs_a_country_named_as_an_origin():
    text = "On 5 May 2020, drivers of trailers who transport goods from Turkey organized a protest in Batumi."
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "GE" and loc is not None and loc.name == "Batumi"


def test_place_syntax_keeps_persian_ezafe_names_and_skips_institutions():
    text = "Municipality workers in Kut e Abdollah protested, and were dispersed by Military Police."
    names = [n for _, n in _sentence_names(text, (0, len(text)))]
    assert "Kut e Abdollah" in names
    assert not any("Police" in n for n in names)


def test_a_place_written_before_its_province_lies_in_that_country():
    text = (
        "On 6 May 2020, the Ukrainian Forces fired 82mm mortars at the positions of the Donbass "
        "People's Militia in the area of Elenovka, Donetsk."
    )
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "UA" and loc is not None and loc.name == "Donetsk"  # not Sevan, Armenia (alias Elenovka)


def test_a_name_that_names_a_bridge_or_a_street_is_not_the_place():
    for text, town in [
        ("On 5 May 2020, protesters blocked the Madrid bridge near Zgharta.", "Zghartā"),
        ("On 5 May 2020, protesters blocked the Palma bridge in Halba.", "Halba"),
    ]:
        country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
        assert country == "LB" and loc is not None and loc.name == town


def test_a_place_after_a_towns_possessive_lies_in_that_country():
    text = "On 1 May 2020, demonstrators blocked the road outside the Central Bank in Beirut's Hamra district."
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "LB" and loc is not None and loc.name == "Beirut"  # not the Emirati village Hamra


def test_a_variant_spelling_alone_in_the_event_sentence_gives_its_country():
    text = (
        "On 4 May 2020, dozens of graduates and institute lecturers protested in Nassriya city demanding monthly "
        "salaries especially during these trying financial and health hardships due to the spread of coronavirus."
    )
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "IQ" and loc is not None and loc.name == "Nasiriyah"


def test_a_lead_sentence_names_the_place_when_the_event_sentence_does_not():
    text = (
        "On 1 May 2020, a series of one-man pickets was organized in Tbilisi to protest poor labour "
        "conditions in the country. The individual protesters stood in front of the companies which "
        "had been accused of mistreating their employees, holding protest posters during the demonstration."
    )
    span = event_sentence(text)
    assert span is not None and span[0] > 0  # the second sentence has two event words more than the lead
    res = extract(text, mode="fast")
    country, loc = event_place(res, text, prior=_no_prior)
    assert country == "GE" and loc is not None and loc.name == "Tbilisi"


def test_a_road_named_after_towns_places_the_event_when_nothing_else_does():
    for text, town in [
        ("On 28 April 2020, rioters blocked the Sidon-Tyr highway near the university.", "Sidon"),
        ("On 30 April 2020, protesters blocked the Zahle roundabout with burning tyres.", "Zahlé"),
    ]:
        country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
        assert country == "LB" and loc is not None and loc.name == town
    # A place the sentence names outright comes first.
    text = "On 5 May 2020, protesters blocked the Sidon road in Halba."
    assert event_place(extract(text, mode="balanced"), text, prior=_no_prior)[1].name == "Halba"


def test_a_place_before_its_province_is_the_namesake_inside_that_province():
    # The gazetteer's only Pisky lies in Poltava, 400 km away: the village is not known, and the
    # province's point is nearer than that namesake.
    text = "On 6 May 2020, rebel forces fired grenade launchers at governmental positions near Pisky, Donetsk."
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "UA" and loc is not None and loc.lat is not None and loc.lon is not None
    assert haversine_km(loc.lat, loc.lon, 48.08, 37.66) < 50
    # "Jalisco" is also a hamlet in Chiapas; after a comma it is the state, and Tonala the city there.
    text = "On 27 April 2020, in Tonala, Jalisco, the body of a man was found in Colonia Paseo de la Canada. 1 fatality"
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "MX" and loc is not None and loc.lat is not None and loc.lon is not None
    assert haversine_km(loc.lat, loc.lon, 20.62, -103.24) < 20


def test_an_area_word_of_one_country_reads_its_provinces_there():
    # "LGA" (local government area) is Nigerian: "Niger" is the state, not the country.
    text = "On 7 May 2020, unidentified gunmen attacked Kagara (Rafi LGA, Niger), killed 1 resident."
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "NG" and loc is not None and loc.place_id is not None and loc.place_id.startswith("admin:NG:")
    # Without the area word the country stays the country.
    text = "On 7 May 2020, unidentified gunmen attacked a village in Niger, killing 1 resident."
    assert event_place(extract(text, mode="balanced"), text, prior=_no_prior)[0] == "NE"


def test_a_hyphenated_district_of_a_city_is_in_that_city():
    text = (
        "On 6 May 2020, a policeman shot and injured a motorcycle driver at Waraha-adde village in "
        "Mogadishu-Heliwa district (Heliwa, Banadir)."
    )
    country, loc = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "SO" and loc is not None and loc.name == "Mogadishu"


def test_a_place_before_a_province_known_by_name_only_lies_in_its_country():
    # Tunapuna-Piarco is an ISO 3166-2 name without a point; "Kelly Village" alone reads as a US alias.
    text = "On 2 May 2020, in Kelly Village, Tunapuna-Piarco, a man was shot dead by six masked men."
    country, _ = event_place(extract(text, mode="balanced"), text, prior=_no_prior)
    assert country == "TT"
