"""``pipeline.ner_greedy`` makes spaCy's NER decisions: the same entities as the ``ner`` component."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline import entities as E
from pipeline.ner_greedy import UnsupportedNerModel, decode, decoder_for

TEXTS = [
    "Angela Merkel met Emmanuel Macron in Berlin on Monday, Reuters said.",
    "The Federal Reserve Bank of New York and the International Monetary Fund  said on Friday\n\n"
    "that the European Central Bank would meet in Frankfurt am Main.",
    "  Officials in Deir ez-Zor told the United Nations Office for the Coordination of Humanitarian "
    "Affairs that Islamic State fighters had left.\nNew York",
    "",
    " \n ",
    "Paris",
]
FRENCH = [
    "Le président Emmanuel Macron a reçu Olaf Scholz à l'Élysée mardi, a annoncé l'Agence France-Presse.",
    "La Banque centrale européenne se réunit à Francfort ; Christine Lagarde prendra la parole.",
]


def _spacy(nlp, docs):  # type: ignore[no-untyped-def]
    ner = nlp.get_pipe("ner")
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in ner.pipe(docs)]


def _cases(texts: list[str]) -> list[str]:
    return [v for t in texts for v in (t, t.lower(), t.upper())]


@pytest.mark.parametrize("tagger", ["balanced", "accurate", "fr"])
def test_decoder_finds_the_entities_of_spacys_ner(tagger: str, seed_text: str) -> None:
    if tagger == "fr":
        nlp, texts = E._nlp_language("fr"), FRENCH + TEXTS
    else:
        nlp, texts = E._nlp(tagger), [*_cases(TEXTS), *_cases([seed_text])]
    docs = list(nlp.pipe(texts, disable=["ner"]))
    ours = decode(decoder_for(nlp.get_pipe("ner")), docs)
    theirs = _spacy(
        nlp,
        [nlp.get_pipe("tok2vec")(nlp.make_doc(t)) if "tok2vec" in nlp.pipe_names else nlp.make_doc(t) for t in texts],
    )
    assert ours == theirs
    # Entities of three or more tokens take the token-by-token branch.
    assert any(len(docs[i].char_span(s, e) or ()) >= 3 for i, spans in enumerate(ours) for s, e, _ in spans)


def test_decoder_keeps_entities_inside_a_sentence() -> None:
    """Preset sentence starts: spaCy's NER never lets an entity cross one; neither does the decoder."""
    nlp = E._nlp("balanced")
    text = "He flew to New York City Hall yesterday with Angela Merkel."
    cut = [t.i for t in nlp.make_doc(text) if t.text in ("York", "Hall", "Merkel")]
    docs = []
    for _ in range(2):
        doc = nlp.get_pipe("tok2vec")(nlp.make_doc(text))
        for i in range(1, len(doc)):
            doc[i].is_sent_start = i in cut
        docs.append(doc)
    theirs = _spacy(nlp, [docs[0]])
    ours = decode(decoder_for(nlp.get_pipe("ner")), [docs[1]])
    assert ours == theirs
    starts = {docs[1][i].idx for i in cut}
    assert all(not any(s < b < e for b in starts) for s, e, _ in ours[0])


def test_other_parsers_are_refused() -> None:
    nlp = E._nlp("balanced")
    ner = nlp.get_pipe("ner")
    beam = SimpleNamespace(model=ner.model, cfg={**ner.cfg, "beam_width": 4}, moves=ner.moves)
    with pytest.raises(UnsupportedNerModel, match="beam"):
        decoder_for(beam)


def test_scores_of_a_state_are_spacys() -> None:
    """The features behind every decision, checked state by state against spaCy's own step model:
    outside an entity, on an entity's second token, and deeper inside one."""
    from pipeline.ner_greedy import feature_table, scores_at

    nlp = E._nlp("balanced")
    ner = nlp.get_pipe("ner")
    dec = decoder_for(ner)
    doc = nlp.get_pipe("tok2vec")(nlp.make_doc("The Federal Reserve Bank of New York said so on Monday."))
    table = feature_table(dec, [doc])
    step = ner.model.predict([doc])
    moves = ["O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "I-ORG", "L-ORG", "O", "O", "O", "U-MISC"]
    state = ner.moves.init_batch([doc])[0]
    start = None
    for i, move in enumerate(moves):
        ours = scores_at(dec, table[1:], table[0], i, start)
        theirs = step.predict([state])[0]
        assert ours == pytest.approx(theirs, abs=1e-4), (i, move)
        ner.moves.apply_transition(state, move)
        start = i if move.startswith("B") else None if move[0] in "LUO" else start
