"""Synthetic Freddie Mac generator throughput: rows/s per layout and file, and peak memory.

    python benchmarks/generate.py [--rows N] [--layout NAME ...] [--workers N] [--out DIR] [--keep]

Writes N origination + N performance rows per layout (1% dirty) into a temporary folder (or --out)
and prints one line per file, then the peak resident memory of the process (ru_maxrss). A small
untimed warm-up run first keeps one-time costs (imports, allocator growth) out of the first layout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout

from producers.freddie.generator import GenerationResult, generate
from producers.freddie.layouts import LAYOUT_NAMES


def peak_rss_mib() -> float:
    # Linux reports kilobytes, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run(layout: str, rows: int, out: Path, workers: int | None, seed: int) -> GenerationResult:
    return generate(out / layout, layout, rows, rows, dirty_share=0.01, seed=seed, workers=workers)


def report(result: GenerationResult) -> None:
    for f in result.files:
        mib = f.size_bytes / (1024 * 1024)
        print(
            f"{f.layout:<10} {f.kind.value:<12} {f.lines:>12,} lines {mib:>9,.1f} MiB "
            f"{f.seconds:>7.2f} s {f.rows_per_second:>12,.0f} rows/s {mib / f.seconds:>7.1f} MiB/s "
            f"rejects {f.expected_rejects:,}"
        )
    print(f"{result.origination.layout:<10} {'both':<12} {result.rows_per_second:>66,.0f} rows/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows per file (default 2,000,000)")
    parser.add_argument("--layout", nargs="+", choices=LAYOUT_NAMES, default=list(LAYOUT_NAMES))
    parser.add_argument("--workers", type=int, default=None, help="generator threads (default: cores, max 4)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="write here instead of a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the files (with --out they are kept)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--no-warmup", action="store_true", help="time the very first run too")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="freddie-bench-"))
    print(f"{args.rows:,} origination + {args.rows:,} performance rows per layout, {os.cpu_count()} cores")
    results = []
    try:
        if not args.no_warmup:
            generate(out / "warmup", "article", 100_000, 100_000, workers=args.workers)
            shutil.rmtree(out / "warmup")
        for layout in args.layout:
            result = run(layout, args.rows, out, args.workers, args.seed)
            report(result)
            results.append(result)
            if args.out is None and not args.keep:
                shutil.rmtree(out / layout)
    finally:
        if args.out is None and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    print(f"peak memory (ru_maxrss): {peak_rss_mib():,.0f} MiB")
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
