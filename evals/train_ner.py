"""Train the packaged NER model (``pipeline/models/ner_conll``) on CoNLL-2003 eng.train.

    nice -n 5 .venv/bin/python -m evals.train_ner [--max-steps N] [--max-minutes M] \
        [--out pipeline/models/ner_conll] [--workdir DIR]
    .venv/bin/python -m evals.train_ner --resume pipeline/models/ner_conll --learn-rate 0.0003 \
        --max-steps 4000 --workdir /tmp/ner_resume

Training examples are whole CoNLL documents (not sentences), with the sentences joined by "\n"
tokens exactly as ``evals.entities`` and the pipeline present text (one sentence per line), so the
model sees document context and the newline tokens it meets at inference. ``--max-minutes`` stops
the run after the first evaluation past a wall-clock budget (``model-best`` is saved by then).

Case robustness: ``--lower P --upper P`` replace that share of training documents by their
all-lower-case / ALL-CAPS copies (``newsflow.case_augmenter.v1``), and model selection then scores
the dev documents in all three cases. ``--truecase PATH`` only writes the case table of
``pipeline.truecase`` (word and word-pair forms of the training part and of the classify dev
sources' cased news text).

``--resume`` continues from saved weights (both components sourced) with a fresh optimiser, a
fixed batch size and a lower learning rate; ``model-best`` is still picked on the held-out 10% of
eng.train. ``--workdir`` keeps the run directory, so an interrupted run still leaves its best
checkpoint (``WORKDIR/out/model-best``) to copy by hand.

The last 10% of eng.train documents are held out as the dev set used for model selection;
eng.testa is never seen here (it is what ``evals.entities`` reports on). The raw data is read from
``DATA/conll2003`` and converted into a temporary directory outside the repo; only the trained
weights land in the repo. Labels: PER, ORG, LOC, MISC (MISC is learnt so that it is not mistaken for
the others; the pipeline maps MISC spans to NORP/EVENT or drops them).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path

from evals import DATA

CONFIG = """
[paths]
train = null
dev = null
vectors = null
init_tok2vec = null

[system]
gpu_allocator = null
seed = 0

[nlp]
lang = "en"
pipeline = ["tok2vec","ner"]
batch_size = 1000
tokenizer = {"@tokenizers":"spacy.Tokenizer.v1"}

[components]

[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = ${components.tok2vec.model.encode.width}
attrs = ["NORM","PREFIX","SUFFIX","SHAPE","ORTH"]
rows = [15000,3000,5000,1000,6000]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 128
depth = 4
window_size = 1
maxout_pieces = 3

[components.ner]
factory = "ner"
incorrect_spans_key = null
moves = null
scorer = {"@scorers":"spacy.ner_scorer.v1"}
update_with_oracle_cut_size = 100

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = ${components.tok2vec.model.encode.width}
upstream = "*"

[corpora]

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}
max_length = 0
gold_preproc = false
limit = 0

[corpora.train.augmenter]
@augmenters = "newsflow.case_augmenter.v1"
lower = 0.05
upper = 0.0

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
dropout = 0.15
accumulate_gradient = 1
patience = 0
max_epochs = 0
max_steps = 6000
eval_frequency = 500
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2
get_length = null

[training.batcher.size]
@schedules = "compounding.v1"
start = 100
stop = 1000
compound = 1.001
t = 0.0

[training.logger]
@loggers = "newsflow.TimedConsoleLogger.v1"
progress_bar = false
max_minutes = 0

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = true
eps = 0.00000001
learn_rate = 0.001

[training.score_weights]
ents_f = 1.0
ents_p = 0.0
ents_r = 0.0

[pretraining]

[initialize]
vectors = ${paths.vectors}
init_tok2vec = ${paths.init_tok2vec}
vocab_data = null
lookups = null
before_init = null
after_init = null

[initialize.components]

[initialize.tokenizer]
"""


def read_conll(path: Path) -> list[list[list[tuple[str, str]]]]:
    """Documents -> sentences -> (token, IOB1 tag)."""
    docs: list[list[list[tuple[str, str]]]] = []
    sent: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if sent:
                docs[-1].append(sent) if docs else docs.append([sent])
                sent = []
            continue
        if parts[0] == "-DOCSTART-":
            docs.append([])
            continue
        sent.append((parts[0], parts[-1]))
    if sent:
        docs[-1].append(sent)
    return [d for d in docs if d]


def iob1_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """Token spans [start, end) with type from IOB1 (or BIO2) tags."""
    spans: list[tuple[int, int, str]] = []
    start, cur = None, None
    for i, t in enumerate([*tags, "O"]):
        kind = t[2:] if t != "O" else None
        begins = t.startswith("B-") or kind != cur
        if cur is not None and (kind is None or begins):
            spans.append((start, i, cur))
            cur = None
        if kind is not None and (cur is None):
            start, cur = i, kind
    return spans


def to_docbin(docs, nlp, path: Path, newlines: bool = True, cases: tuple[str, ...] = ("cased",)) -> None:
    """``cases``: each document once per entry, as is ("cased"), "lower"-cased or "upper"-cased."""
    from spacy.tokens import Doc, DocBin, Span

    change = {"cased": lambda w: w, "lower": str.lower, "upper": str.upper}
    db = DocBin()
    for case, d0 in ((c, d) for c in cases for d in docs):
        d = [[(change[case](w), t) for w, t in s] for s in d0]
        words: list[str] = []
        spaces: list[bool] = []
        sent_starts: list[bool] = []
        offsets = []
        for k, s in enumerate(d):
            if k and newlines:  # "...word\nWord ...": one sentence per line, as extract() is given
                spaces[-1] = False
                words.append("\n")
                spaces.append(False)
                sent_starts.append(False)
            offsets.append(len(words))
            words += [w for w, _ in s]
            spaces += [True] * len(s)
            sent_starts += [j == 0 for j in range(len(s))]
        spaces[-1] = False
        doc = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=sent_starts)
        ents = []
        for offset, s in zip(offsets, d, strict=True):
            for a, b, lab in iob1_spans([t for _, t in s]):
                ents.append(Span(doc, offset + a, offset + b, label=lab))
        doc.ents = ents
        db.add(doc)
    db.to_disk(path)


class TimeUp(Exception):
    """Raised by the timed logger after a checkpoint once the wall-clock budget is spent."""


def _register_logger() -> None:
    """``newsflow.TimedConsoleLogger.v1``: spaCy's console logger that stops training (by raising
    ``TimeUp`` right after an evaluation, i.e. after ``model-best`` is saved) once ``max_minutes``
    of wall-clock time have passed (0: no limit)."""
    import time

    import spacy
    from spacy.training.loggers import console_logger

    @spacy.registry.loggers("newsflow.TimedConsoleLogger.v1")
    def timed_logger(progress_bar: bool = False, max_minutes: float = 0):
        base = console_logger(progress_bar=progress_bar)

        def setup(nlp, stdout=None, stderr=None):
            import sys

            log_step, finalize = base(nlp, stdout or sys.stdout, stderr or sys.stderr)
            t0 = time.monotonic()

            def step(info):
                log_step(info)
                if info is not None and max_minutes and time.monotonic() - t0 > 60 * max_minutes:
                    raise TimeUp(f"{max_minutes} min wall-clock budget spent at step {info['step']}")

            return step, finalize

        return setup


def _register_augmenter() -> None:
    """``newsflow.case_augmenter.v1``: a training document is replaced, with probability ``lower``
    by its all-lower-case copy and with probability ``upper`` by its ALL-CAPS copy (whole
    documents, as feeds deliver them), so the model learns to find entities without case cues."""
    import random

    import spacy
    from spacy.training import Example

    @spacy.registry.augmenters("newsflow.case_augmenter.v1")
    def case_augmenter(lower: float = 0.0, upper: float = 0.0):
        def augment(nlp, example):
            r = random.random()
            if r >= lower + upper:
                yield example
                return
            change = str.lower if r < lower else str.upper
            data = example.to_dict()
            data["token_annotation"]["ORTH"] = [change(t.text) for t in example.reference]
            yield Example.from_dict(nlp.make_doc(change(example.text)), data)

        return augment


def _sourced(config: str, src: str) -> str:
    """The config with tok2vec and ner taken from the pipeline at ``src`` (their model sections
    dropped)."""
    out, section = [], ""
    for line in config.splitlines():
        m = re.match(r"\[(.+)\]$", line)
        if m:
            section = m.group(1)
            if section in ("components.tok2vec", "components.ner"):
                out += [line, f'source = "{src}"']
                continue
        if section.startswith(("components.tok2vec", "components.ner")):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _spacy_vectors(npz: Path, workdir: Path) -> Path:
    """A blank pipeline at ``workdir/vectors`` holding the vectors of ``npz`` (lower-cased words),
    each row reachable from the word's lower, Title and UPPER forms: the encoder they come from is
    uncased, so "germany", "Germany" and "GERMANY" share one vector and an all-lower or ALL-CAPS
    text keeps that cue. (Keys per form rather than ``Vectors(attr="LOWER")``: spaCy 3.8 does not
    save ``attr`` for default-mode vectors, so a saved model would look vectors up by ORTH again.)"""
    import numpy as np
    import spacy
    from spacy.vectors import Vectors

    data = np.load(npz)
    words = [str(w) for w in data["words"]]
    nlp = spacy.blank("en")
    vectors = Vectors(strings=nlp.vocab.strings, data=data["vectors"].astype(np.float32))
    for row, w in enumerate(words):
        for form in dict.fromkeys((w, w.title(), w.upper(), w[:1].upper() + w[1:])):
            vectors.add(nlp.vocab.strings.add(form), row=row)
    nlp.vocab.vectors = vectors
    out = workdir / "vectors"
    nlp.to_disk(out)
    return out


# Pairs seen fewer times than this, or whose usual form makes less than PAIR_SHARE of them, are
# not written: chosen on the eng.train dev split (lower-cased), not on eng.testa.
PAIR_MIN_COUNT = 2
PAIR_SHARE = 0.9
# A word or pair after one of these (or at a line start) is capitalised by its position, not its
# nature, and is not counted.
_POSITIONAL = re.compile(r"(?:^|[.!?:\"“”‘'(\[|–—-])\s*$")


def truecase_lines(train_docs, data: Path = DATA):
    """Cased news text for the case table: eng.train's training part (one sentence per line) and
    every title and body line of the classify dev sources (``evals.classify_data``: BBC, AG News,
    HuffPost, MasakhaNEWS, ACLED notes, CASE, GLOCON and RAMS)."""
    from evals.classify_data import load_all

    for d in train_docs:
        for sent in d:
            yield " ".join(w for w, _ in sent)
    for doc in load_all(data):
        for text in (doc.title or "", doc.text):
            yield from text.split("\n")


def _usual(forms) -> tuple[str, int, int]:
    """(most frequent form, its count, count of the word) ignoring ALL-CAPS forms when the word is
    also written otherwise: datelines ("MOSCOW, March 3") would otherwise outvote "Moscow"."""
    from collections import Counter

    mixed = Counter({f: n for f, n in forms.items() if not (f.isupper() and len(f) > 1)})
    if sum(mixed.values()) >= 2 or (mixed and sum(forms.values()) < 3):
        forms = mixed
    form, n = forms.most_common(1)[0]
    return form, n, sum(forms.values())


# English word lists (SCOWL, Debian packages ``wamerican`` and ``wbritish``; build time only): their
# lower-case words are written as seen, so that ``pipeline.truecase`` capitalises only words that
# are neither in the counted text nor English words (most often names).
WORD_LISTS = (Path("/usr/share/dict/american-english"), Path("/usr/share/dict/british-english"))


def english_words(paths=WORD_LISTS) -> set[str]:
    """Lower-case entries of the word lists (possessives left out); a missing list is an error."""
    words: set[str] = set()
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"word list {path} not found (apt-get install wamerican wbritish)")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.islower() and not line.endswith("'s"):
                words.add(line)
    return words


def build_truecase(lines, path: Path, known: set[str] | frozenset[str] = frozenset()) -> None:
    """The case table of ``pipeline.truecase`` from cased ``lines``: every word (lower-cased) and,
    when its usual form is not all lower case, that form, its count and the word's count; then every
    pair of words one space apart whose usual form (seen at least ``PAIR_MIN_COUNT`` times, at least
    ``PAIR_SHARE`` of the pair's occurrences) differs from what the words' own forms give. Lines that
    are all lower, ALL CAPS or in headline style, and words capitalised by their position, are not
    counted. Words of ``known`` not met in ``lines`` are written as seen (plain lower case)."""
    import gzip
    from collections import Counter

    from pipeline.truecase import _TOKEN, case_of, headline_words, holds

    words: dict[str, Counter[str]] = {}
    pairs: dict[str, Counter[str]] = {}
    for line in lines:
        if case_of(line) != "mixed" or headline_words(line) is not None:
            continue
        prev, prev_positional = None, False
        for m in _TOKEN.finditer(line):
            word = m.group(0)
            c = words.setdefault(word.lower(), Counter())
            positional = bool(_POSITIONAL.search(line, 0, m.start()))
            if not positional:
                c[word] += 1
            if prev is not None and line[prev.end() : m.start()] == " " and not prev_positional:
                pair = f"{prev.group(0)} {word}"
                if not pair.isupper():
                    pairs.setdefault(pair.lower(), Counter())[pair] += 1
            prev, prev_positional = m, positional
    out, usual = [], {}
    for word in sorted(words):
        if not words[word]:
            out.append(f"{word}\n")
            continue
        form, n, total = _usual(words[word])
        if form != word and holds(n, total):
            usual[word] = form
        out.append(f"{word}\t{form}\t{n}\t{total}\n" if form != word else f"{word}\n")
    out += [f"{word}\n" for word in sorted(set(known) - words.keys())]
    for pair in sorted(pairs):
        form, n = pairs[pair].most_common(1)[0]
        total = sum(pairs[pair].values())
        first, second = pair.split(" ")
        if (
            total >= PAIR_MIN_COUNT
            and n >= PAIR_SHARE * total
            and form != f"{usual.get(first, first)} {usual.get(second, second)}"
        ):
            out.append(f"{pair}\t{form}\t{n}\t{total}\n")
    # mtime=0: the same data gives the same bytes (and the same content hash in the model registry)
    path.write_bytes(gzip.compress("".join(out).encode("utf-8"), compresslevel=9, mtime=0))


def main() -> None:
    ap = argparse.ArgumentParser()
    default_out = Path(__file__).resolve().parent.parent / "pipeline/models/ner_conll"
    ap.add_argument("--out", default=str(default_out))
    ap.add_argument("--max-steps", type=int, default=6000)
    ap.add_argument("--dev-share", type=float, default=0.1)
    ap.add_argument("--resume", default=None, help="saved pipeline to continue training from")
    ap.add_argument("--learn-rate", type=float, default=None)
    ap.add_argument("--eval-frequency", type=int, default=None)
    ap.add_argument("--workdir", default=None, help="keep the run here (default: a temp dir)")
    ap.add_argument("--dropout", type=float, default=None)
    ap.add_argument("--lower", type=float, default=0.05, help="share of training documents lower-cased")
    ap.add_argument("--upper", type=float, default=0.0, help="share of training documents upper-cased")
    ap.add_argument("--width", type=int, default=None, help="tok2vec width (new models only)")
    ap.add_argument("--depth", type=int, default=None, help="tok2vec depth (new models only)")
    ap.add_argument("--hidden-width", type=int, default=None, help="NER state-layer width (new models only)")
    ap.add_argument(
        "--max-minutes",
        type=float,
        default=0,
        help="wall-clock budget; stops after the first evaluation past it (0: none)",
    )
    ap.add_argument(
        "--vectors",
        default=None,
        metavar="NPZ",
        help="static word vectors (words, vectors) from evals.build_word_vectors, keyed by lower/Title/UPPER form",
    )
    ap.add_argument(
        "--no-newlines", action="store_true", help="join a document's sentences with spaces (default: one per line)"
    )
    ap.add_argument(
        "--truecase",
        default=None,
        metavar="PATH",
        help="only build the case table of pipeline.truecase (eng.train training part + classify dev text) at PATH",
    )
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import spacy
    from spacy.cli.train import train

    docs = read_conll(DATA / "conll2003" / "eng.train")
    n_dev = max(1, int(len(docs) * args.dev_share))
    train_docs, dev_docs = docs[:-n_dev], docs[-n_dev:]
    if args.truecase:
        build_truecase(truecase_lines(train_docs), Path(args.truecase), english_words())
        print(f"saved {args.truecase}")
        return
    nlp = spacy.blank("en")
    overrides: dict[str, object] = {
        "training.max_steps": args.max_steps,
        "training.logger.max_minutes": args.max_minutes,
    }
    if args.learn_rate is not None:
        overrides["training.optimizer.learn_rate"] = args.learn_rate
    if args.dropout is not None:
        overrides["training.dropout"] = args.dropout
    if args.eval_frequency is not None:
        overrides["training.eval_frequency"] = args.eval_frequency
    overrides["corpora.train.augmenter.lower"] = args.lower
    overrides["corpora.train.augmenter.upper"] = args.upper
    if args.width is not None:
        overrides["components.tok2vec.model.encode.width"] = args.width
    if args.depth is not None:
        overrides["components.tok2vec.model.encode.depth"] = args.depth
    if args.hidden_width is not None:
        overrides["components.ner.model.hidden_width"] = args.hidden_width
    config = CONFIG
    if args.resume:
        src = str(Path(args.resume).resolve())
        # Both components sourced from the saved pipeline; batch size fixed at the end of the
        # original schedule so the resumed run does not restart from tiny batches.
        config = _sourced(config, src).replace("start = 100\n", "start = 1000\n")
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(args.workdir) if args.workdir else Path(tmp)
        t.mkdir(parents=True, exist_ok=True)
        to_docbin(train_docs, nlp, t / "train.spacy", newlines=not args.no_newlines)
        # Model selection sees the dev documents in every case the training sees.
        cases = ("cased",) + (("lower",) if args.lower > 0.05 else ()) + (("upper",) if args.upper else ())
        to_docbin(dev_docs, nlp, t / "dev.spacy", newlines=not args.no_newlines, cases=cases)
        if args.vectors:
            overrides["paths.vectors"] = str(_spacy_vectors(Path(args.vectors), t))
            overrides["components.tok2vec.model.embed.include_static_vectors"] = True
        (t / "config.cfg").write_text(config)
        overrides.update({"paths.train": str(t / "train.spacy"), "paths.dev": str(t / "dev.spacy")})
        _register_logger()
        _register_augmenter()
        try:
            train(t / "config.cfg", t / "out", overrides=overrides)
        except TimeUp as e:
            print(f"stopped: {e}")
        out = Path(args.out)
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(t / "out" / "model-best", out)
        # The saved pipeline must load without this module: plain console logger and no augmenter
        # in its config.
        cfg = out / "config.cfg"
        text = re.sub(
            r'"newsflow\.TimedConsoleLogger\.v1"\n(progress_bar = \w+)\nmax_minutes = \S+',
            r'"spacy.ConsoleLogger.v1"\n\1',
            cfg.read_text(),
        )
        text = re.sub(r"\[corpora\.train\.augmenter\]\n(?:[^\[\n].*\n)*", "", text)
        # The run's temp paths mean nothing elsewhere (loading a saved pipeline never reads them).
        text = re.sub(r'^(train|dev|vectors) = ".*"$', r"\1 = null", text, flags=re.M)
        cfg.write_text(text)
    print(f"saved {out}")


if __name__ == "__main__":
    main()
