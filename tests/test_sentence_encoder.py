"""The packaged sentence encoder (pipeline/models/minilm, built by evals/build_encoder.py)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from pipeline.sentence_encoder import MAX_TOKENS, SentenceEncoder, encoder_text, words_upto


@lru_cache(maxsize=1)
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


def test_it_reproduces_the_published_model_on_its_own_example():
    """sentence-transformers gives 0.755 for this pair with the float model; the int8 graph must
    stay close, and an unrelated sentence must be far."""
    a, b, c = encoder().encode(
        ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell on Monday."]
    )
    assert float(a @ b) == pytest.approx(0.755, abs=0.02)
    assert float(a @ c) < 0.2


def test_vectors_are_unit_length_and_an_empty_text_is_zero():
    vecs = encoder().encode(["Rates rise again", "", "  "])
    assert vecs.shape == (3, 384)
    assert np.linalg.norm(vecs[0]) == pytest.approx(1.0, abs=1e-5)
    assert not vecs[1].any() and not vecs[2].any()


def test_a_vector_does_not_depend_on_the_texts_encoded_with_it():
    """int8 inference scales activations per call: batched texts would change each other's vectors
    (by up to 0.02 here), and a record's category would depend on what arrived with it."""
    short = "Keeper's late howler hands visitors a point"
    long = "The central bank raised its main interest rate by half a point on Thursday, " * 4
    alone = encoder().encode([short])[0]
    together = encoder().encode([long, short, "Rain"])[1]
    assert np.array_equal(alone, together)


def test_text_past_the_token_budget_is_not_read():
    head = " ".join(f"word{i}" for i in range(MAX_TOKENS))
    one, two = encoder().encode([head + " tail one", head + " completely different tail two"])
    assert np.abs(one - two).max() < 1e-6


def test_what_the_encoder_reads_and_when():
    assert encoder_text("Title", "") == "Title"
    assert encoder_text(None, "Body") == "Body"
    assert encoder_text("Title", "Body " * 500).startswith("Title. Body") and len(encoder_text("T", "x" * 5000)) < 700
    assert words_upto("", 40) == 0 and words_upto("w " * 40, 40) == 40 and words_upto("w " * 500, 40) == 41
