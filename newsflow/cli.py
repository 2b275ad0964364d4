"""``newsflow`` command line: replay, enrich, worker, tail, topics, demo, poll, feeds."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from pipeline.model_registry import ModelMissingError


def _cmd_replay(a: argparse.Namespace) -> int:
    from newsflow.replay import replay
    from newsflow.settings import get_settings

    summary = asyncio.run(
        replay(get_settings(), a.paths, rate=a.rate, speed=a.speed, progress=not a.quiet, checkpoint=a.checkpoint)
    )
    print(summary.line())
    return 0


def _cmd_reprocess(a: argparse.Namespace) -> int:
    from newsflow.replay import main as replay_main

    return replay_main(["reprocess", *(["--group", a.group] if a.group else [])])


def _cmd_enrich(a: argparse.Namespace) -> int:
    from newsflow.offline import enrich_files

    stats = enrich_files(a.paths, a.output, progress=not a.quiet)
    print(stats.line(), file=sys.stderr)
    return 0


def _cmd_worker(a: argparse.Namespace) -> int:
    from newsflow.worker import run_worker

    return run_worker()


def _cmd_topics(a: argparse.Namespace) -> int:
    from newsflow.kafka import ensure_topics, topic_partitions
    from newsflow.settings import get_settings

    s = get_settings()
    created = asyncio.run(ensure_topics(s))
    for name, n in topic_partitions(s).items():
        print(f"{name:28s} partitions={n} {'(created)' if name in created else ''}")
    return 0


def _cmd_tail(a: argparse.Namespace) -> int:
    from newsflow.tail import tail

    return asyncio.run(tail(a))


def _cmd_demo(a: argparse.Namespace) -> int:
    from newsflow.demo import run_demo

    return run_demo(a.paths, timeout=a.timeout)


def _cmd_poll(a: argparse.Namespace) -> int:
    from newsflow.poll import run_poller

    return run_poller()


def _cmd_feeds(a: argparse.Namespace) -> int:
    from newsflow import feeds
    from newsflow.settings import get_settings

    s = get_settings()
    if a.action == "list":
        for url, entry in sorted(asyncio.run(feeds.list_feeds(s)).items()):
            print(feeds.describe(url, entry))
        return 0
    if not a.urls:
        print(f"newsflow feeds {a.action}: give at least one URL", file=sys.stderr)
        return 2
    try:
        for url in a.urls:
            feeds.normalize_feed_url(url)
    except ValueError as exc:
        print(f"newsflow feeds {a.action}: {exc}", file=sys.stderr)
        return 2
    if a.action == "add":
        done = asyncio.run(feeds.add_feeds(s, a.urls, a.interval))
    else:
        done = asyncio.run(feeds.remove_feeds(s, a.urls))
    for url in done:
        print(f"{'added' if a.action == 'add' else 'removed'} {url}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="newsflow", description="Stream-processing pipeline for news feeds.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="produce a backlog (files or folders) to the raw topic")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--rate", type=float, help="articles per second at most")
    p.add_argument("--speed", type=float, help="replay at the original publication pace times this factor")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint", type=Path, help="resume file: a rerun skips what was produced and acked")
    p.set_defaults(func=_cmd_replay)

    p = sub.add_parser(
        "reprocess", help="reset the workers' group to read newsflow.raw from the start (stop the workers first)"
    )
    p.add_argument("--group", help="consumer group (default: NEWSFLOW_APP_ID)")
    p.set_defaults(func=_cmd_reprocess)

    p = sub.add_parser("enrich", help="run every stage in this process, without Kafka")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="JSON Lines of EnrichedArticle")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_enrich)

    p = sub.add_parser("worker", help="run a Faust worker (all agents)")
    p.set_defaults(func=_cmd_worker)

    p = sub.add_parser("topics", help="create the pipeline's topics with their partition counts")
    p.set_defaults(func=_cmd_topics)

    p = sub.add_parser("tail", help="print the enriched output topic")
    p.add_argument("-f", "--follow", action="store_true", help="keep waiting for new articles")
    p.add_argument("--new", action="store_true", help="start at the end instead of the beginning")
    p.add_argument("--json", action="store_true", help="print the full JSON of each article")
    p.add_argument("--category", help="only this IPTC category (e.g. conflict_war_peace)")
    p.add_argument("--country", help="only events in this ISO 3166 alpha-2 country (e.g. SY)")
    p.add_argument("--event-type", help='only this ACLED event type (e.g. "Battles")')
    p.add_argument("--topic", default="enriched", help="stage topic to read (default: enriched)")
    p.set_defaults(func=_cmd_tail)

    p = sub.add_parser("poll", help="run a feed poller (polls the feeds of the partitions it owns)")
    p.set_defaults(func=_cmd_poll)

    p = sub.add_parser("feeds", help="register, list or remove polled feeds (RSS, Atom, JSON Feed, sitemaps)")
    p.add_argument("action", choices=["add", "list", "remove"])
    p.add_argument("urls", nargs="*")
    p.add_argument("--interval", type=float, help="seconds between polls of these feeds (add)")
    p.set_defaults(func=_cmd_feeds)

    p = sub.add_parser("demo", help="worker + replay + summary against a running broker")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("seeds")])
    p.add_argument("--timeout", type=float, default=180.0)
    p.set_defaults(func=_cmd_demo)
    return ap


# Commands that talk to Kafka: each first checks that the broker accepts its login.
_KAFKA_COMMANDS = frozenset({"replay", "reprocess", "worker", "topics", "tail", "demo"})


def _check_login() -> None:
    from newsflow.kafka import check_login
    from newsflow.settings import get_settings

    asyncio.run(check_login(get_settings()))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    args = build_parser().parse_args(argv)
    from newsflow.kafka import LoginRefused

    try:
        if args.command in _KAFKA_COMMANDS:
            _check_login()
        return int(args.func(args) or 0)
    except ModelMissingError as exc:  # a broken install: one clear line, no traceback, non-zero exit
        print(f"newsflow: {exc}", file=sys.stderr)
        return 3
    except LoginRefused as exc:
        print(f"newsflow {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
