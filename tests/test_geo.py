from pipeline.geo import gazetteer, haversine_km, norm


def test_norm_folds_accents_and_punctuation():
    assert norm("São-Paulo") == norm("sao paulo")
    assert norm("U.S.") == "us"


def test_country_aliases():
    gaz = gazetteer()
    for name, cc in [("U.S.", "US"), ("Britain", "GB"), ("Syria", "SY"), ("DR Congo", "CD")]:
        assert gaz.resolve(name).country == cc


def test_resolve_many_uses_context():
    gaz = gazetteer()
    out, ranked = gaz.resolve_many([("Idlib", 2.0), ("Aleppo", 1.0), ("Moscow", 1.0)])
    assert out["Idlib"].country == "SY"
    assert ranked[0][0] == "SY"
    out, _ = gaz.resolve_many([("Los Angeles", 1.0), ("Biobío", 1.0)])
    assert out["Los Angeles"].country == "CL"


def test_demonyms_vote():
    gaz = gazetteer()
    assert gaz.demonym("Syrian") == "SY" and gaz.demonym("South African") == "ZA"
    assert gaz.demonym("South") is None


def test_capitals_and_ids():
    gaz = gazetteer()
    moscow = gaz.resolve("Moscow")
    assert moscow.is_capital and moscow.geonameid == 524901
    assert not gaz.resolve("Aleppo").is_capital


def test_nearest_same_named_place():
    gaz = gazetteer()
    # Seven villages called Novoselivka in Ukraine: next to Donetsk it is the one nearest Donetsk.
    out, _ = gaz.resolve_many([("Novoselivka", 1.0), ("Donetsk", 1.0), ("Ukraine", 1.0)])
    donetsk = out["Donetsk"]
    assert donetsk.country == "UA"
    cands = [e for e in gaz.lookup("Novoselivka") if e.country == "UA"]
    assert len(cands) > 1
    nearest = min(cands, key=lambda e: haversine_km(e.lat, e.lon, donetsk.lat, donetsk.lon))
    assert out["Novoselivka"] == nearest
    assert nearest != max(cands, key=lambda e: e.population)


def test_haversine():
    assert abs(haversine_km(0, 0, 0, 1) - 111.2) < 0.5


def test_admin_areas_have_points():
    gaz = gazetteer()
    hiiraan = gaz.resolve("Hiiraan")
    assert hiiraan.country == "SO" and hiiraan.feature == "admin" and hiiraan.lat is not None
    assert gaz.resolve("Ghazni").feature == "city"  # a same-named town wins over its province


def test_direction_prefix_and_cues():
    gaz = gazetteer()
    assert [e.country for e, _ in gaz.candidates("Northern Iraq")][:1] == ["IQ"]
    assert gaz.cue("Taliban") == "AF" and gaz.cue("OSCE SMM") == "UA" and gaz.cue("pro-Houthi") == "YE"
    assert gaz.cue("Reuters") is None
