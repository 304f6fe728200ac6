"""Batch pipeline benchmark: rows/s per step and peak memory, DuckDB at scale and a smaller Spark run.

    python benchmarks/batch.py                       # 2M acquisitions + 10M performance (DuckDB), then Spark
    python benchmarks/batch.py --acquisitions 200000 --performance 1000000 --no-spark

Uses the active profile (embedded by default: `bdml up` first) with its own buckets and databases.
Prints a table against the design anchors and writes reports/bench-batch.json and a PNG chart.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hive.batch import BatchJob, BatchReport, BatchRequest  # noqa: E402
from services.settings import HqlSettings, MySQLSettings, RedshiftSettings, S3Settings, get_settings  # noqa: E402

# (step, article's figure on EMR/AWS, our first target on 2 cores), rows/s.
ANCHORS = {
    "hql origination": (178_000, 350_000),
    "hql performance": (103_000, 350_000),
    "load mysql origination": (35_000, 80_000),
    "load redshift performance": (120_000, 200_000),
}


def peak_rss_mb() -> tuple[float, float]:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kb / 1024, children_kb / 1024


def run(engine: str, acquisitions: int, performance: int) -> BatchReport:
    base = get_settings()
    settings = base.model_copy(
        update={
            "hql": HqlSettings(**{**base.hql.model_dump(), "engine": engine}),
            "s3": S3Settings(
                **{
                    **base.s3.model_dump(),
                    "raw_bucket": "bdml-bench-raw",
                    "processed_bucket": "bdml-bench-processed",
                }
            ),
            "mysql": MySQLSettings(dsn=base.mysql.dsn.rsplit("/", 1)[0] + "/bdml_bench"),
            "redshift": RedshiftSettings(
                **{**base.redshift.model_dump(), "dsn": base.redshift.dsn.rsplit("/", 1)[0] + "/bdml_bench"}
            ),
        }
    )
    from services.stack import mariadb, postgres

    mariadb.up(settings)  # creates the bench databases when missing
    postgres.up(settings)
    request = BatchRequest("article", acquisitions, performance, dirty_share=0.001, seed=11)
    return BatchJob(settings).run(request)


def show(report: BatchReport, label: str) -> list[dict[str, object]]:
    rows = []
    print(f"\n== {label}: engine {report.engine}, total {report.seconds:.1f}s")
    print(f"{'step':32} {'rows in':>12} {'seconds':>8} {'rows/s':>10} {'article':>9} {'target':>9}")
    for s in report.steps:
        article, target = ANCHORS.get(s.step, (None, None))
        flag = "" if target is None else ("  ok" if s.rows_per_second >= target else "  below target")
        print(
            f"{s.step:32} {s.rows_in:>12,} {s.seconds:>8.2f} {s.rows_per_second:>10,.0f} "
            f"{article or '':>9} {target or '':>9}{flag}"
        )
        rows.append({"run": label, **s.as_dict(), "article_rows_per_second": article, "target": target})
    return rows


def chart(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r for r in rows if r["step"] in ANCHORS]
    labels = [f"{r['run']}\n{r['step']}" for r in steps]
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(labels) + 1.5))
    ax.barh(labels, [float(r["rows_per_second"]) for r in steps], color="#4477aa", label="measured")  # type: ignore[arg-type]
    ax.scatter(
        [r["target"] for r in steps], labels, color="#cc3311", marker="|", s=400, label="2-core target"
    )
    ax.scatter(
        [r["article_rows_per_second"] for r in steps],
        labels,
        color="#999999",
        marker="|",
        s=400,
        label="article (EMR/AWS)",
    )
    ax.set_xlabel("rows per second")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--acquisitions", type=int, default=2_000_000)
    parser.add_argument("--performance", type=int, default=10_000_000)
    parser.add_argument("--spark-acquisitions", type=int, default=100_000)
    parser.add_argument("--spark-performance", type=int, default=500_000)
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--no-duckdb", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args()

    rows: list[dict[str, object]] = []
    if not args.no_duckdb:
        rows += show(run("duckdb", args.acquisitions, args.performance), "duckdb")
        self_mb, _ = peak_rss_mb()
        print(f"peak RSS after the DuckDB run: {self_mb:,.0f} MB (this process: generator, DuckDB, loaders)")
    if not args.no_spark:
        rows += show(run("spark", args.spark_acquisitions, args.spark_performance), "spark")
        self_mb, child_mb = peak_rss_mb()
        print(
            f"peak RSS: this process {self_mb:,.0f} MB, largest finished child (Spark JVM) {child_mb:,.0f} MB"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-batch.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    chart(rows, args.out / "bench-batch.png")
    print(f"\nwrote {args.out / 'bench-batch.json'} and {args.out / 'bench-batch.png'}")


if __name__ == "__main__":
    main()
