"""The country prior: training and inference agree, and the shipped arrays load and answer."""

from __future__ import annotations

import numpy as np

from evals.train_country_prior import fit
from pipeline.country_prior import CountryPrior, analyze, country_prior

ROWS = [  # (numeric ISO, note) written for this test, not taken from any dataset
    ("422", "Protesters blocked the Miniyeh highway against the US dollar exchange rate."),
    ("422", "Rioters hurled stones at a bank in Nabatiyeh over the dollar exchange rate."),
    ("422", "Demonstrators closed the Beddawi road over the exchange rate and living conditions."),
    ("706", "Al Shabaab militants fired mortars at Mogadishu-Hodan district in Banadir."),
    ("706", "A grenade was thrown at government forces in Mogadishu-Abdiaziz district, Banadir."),
    ("706", "Al Shabaab militants shot a soldier in Hawl Wadaag district of Banadir."),
]


def _rows() -> list[dict[str, str]]:
    return [{"iso": iso, "country": "", "notes": note} for iso, note in ROWS]


def test_analyze_drops_the_date_lead_and_adds_pairs():
    toks = analyze("On 7 May 2020, protesters blocked the Miniyeh highway.")
    assert "may" not in toks and "protesters" in toks and "miniyeh highway" in toks


def test_fit_then_predict_recovers_training_countries():
    model = CountryPrior(fit(_rows()))
    assert set(model.classes) == {"LB", "SO"}
    assert model.predict("Protesters blocked a road over the dollar exchange rate.")[0] == "LB"
    country, p = model.predict("Militants attacked a checkpoint in Banadir district.")
    assert country == "SO" and 0.5 < p <= 1.0
    assert model.predict("") == (None, 0.0)


def test_shipped_model_loads_and_returns_probabilities():
    country, p = country_prior(
        "On 28 April 2020, protesters demonstrating against the high US dollar "
        "exchange rate and dire economic and living conditions blocked a road."
    )
    assert country is not None and len(country) == 2
    assert 0.0 < p <= 1.0
    with np.load(__import__("pipeline.country_prior", fromlist=["MODEL_PATH"]).MODEL_PATH) as z:
        assert z["W"].shape == (len(z["vocab"]), len(z["classes"]))
