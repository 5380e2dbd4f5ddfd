"""What `audit packet --verify` costs on crafted files (issue 27, item 5).

    .venv/bin/python -m bench.packet_verify [--tags 25000 50000 100000 200000]
        [--depth 100000] [--write DIR]

Builds, in memory, the two files of the attack and times `presentation.packet.read` on each
(what `--verify` runs on a file's bytes before it touches the database):
  - an HTML file with N unclosed `<script type="application/json" id="packet-data">` tags
    (200,000 tags is ~10 MB) and a well-formed digest `<meta>`;
  - an HTML packet whose embedded JSON is DEPTH nested arrays (`[[[...]]]`).
Prints, per file, its size, CPU seconds (`time.process_time`: steady on a busy machine), wall
seconds, and how the reading ended (refused as not a packet, or the exception it raised).
--write DIR also writes the files there, for timing the command itself:

    /usr/bin/time -f "%e s wall, %U s user" .venv/bin/rpm-logger audit packet \\
        --verify DIR/crafted-200000-tags.html

Not part of the test suite: the tests bound the same files with a pytest timeout only.
"""

import argparse
import time
from pathlib import Path

from presentation import packet

OPENING = '<script type="application/json" id="packet-data">'
DIGEST = '<meta name="packet-sha256" content="' + "0" * 64 + '">'


def unclosed_tags(count: int) -> bytes:
    """The quadratic case of the old regex: every opening tag starts a scan to the end."""
    return ("<!doctype html>" + DIGEST + OPENING * count).encode()


def nested_json(depth: int) -> bytes:
    """An embedded content nested `depth` arrays deep (json.loads recursed into a
    RecursionError traceback)."""
    return ("<!doctype html>" + DIGEST + OPENING + "[" * depth + "]" * depth
            + "</script>").encode()


def timed(data: bytes) -> tuple[float, float, str]:
    """CPU seconds, wall seconds and how `packet.read(data)` ended."""
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        packet.read(data)
        ended = "read"
    except packet.NotAPacket as exc:
        ended = f"NotAPacket: {str(exc)[:70]}"
    except RecursionError as exc:
        ended = f"RecursionError: {str(exc)[:60]}"
    return time.process_time() - cpu, time.perf_counter() - wall, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, nargs="+", default=[25_000, 50_000, 100_000,
                                                                200_000])
    parser.add_argument("--depth", type=int, default=100_000)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    files = [(f"crafted-{n}-tags.html", unclosed_tags(n)) for n in args.tags]
    files.append((f"nested-{args.depth}.html", nested_json(args.depth)))
    print(f"{'file':<28} {'bytes':>12} {'CPU s':>8} {'wall s':>8}  ended")
    for name, data in files:
        if args.write:
            args.write.mkdir(parents=True, exist_ok=True)
            (args.write / name).write_bytes(data)
        cpu, wall, ended = timed(data)
        print(f"{name:<28} {len(data):>12,} {cpu:>8.3f} {wall:>8.3f}  {ended}", flush=True)


if __name__ == "__main__":
    main()
