"""faust's own ceiling: a minimal app whose one agent only counts the records of a topic.

Run as a process by `citywatch bench worker`:

    python -m tools.bench.empty_agent --bootstrap H:P --topic T --app-id A --expected N --datadir D --result F

It times the consuming only (first record to the N-th, in-process clock), writes the figures to the result file
(JSON, replaced atomically) and keeps running until stopped: the benchmark sends SIGTERM once the file is there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faust


def write_json(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def create_app(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.app_id,
        broker=[f"kafka://{h}" for h in args.bootstrap.split(",")],
        store="memory://",
        datadir=args.datadir,
        web_enabled=False,
        topic_partitions=args.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(args.topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    result = Path(args.result)
    progress = Path(args.progress) if args.progress else None
    expected: int = args.expected

    @app.agent(topic)
    async def count_records(stream: faust.StreamT[bytes]) -> None:
        count = 0
        first = 0.0
        async for _value in stream:
            count += 1
            if count == 1:
                first = time.perf_counter()
            if count == expected:
                write_json(result, {"records": count, "seconds": time.perf_counter() - first})
            if progress is not None and count % 10_000 == 0:
                write_json(progress, {"records": count})

    return app


def main(argv: list[str] | None = None) -> None:
    from faust.worker import Worker

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--datadir", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--progress", default="")
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args(argv)
    app = create_app(args)
    Worker(app, loglevel="warning", redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main()
