"""Streaming pipeline benchmark: records/s end to end, latency from put to S3 object, peak memory.

    python benchmarks/stream.py                          # 50,000 records, 2 shards, 1 s buffer interval
    python benchmarks/stream.py --records 200000 --shards 4 --buffer-interval 5

Runs `bdml stream run` in process against the active profile (embedded: MiniStack) with its own
application name and S3 prefix, both cleared first, so runs are comparable. Latency is per record from the
start of the put_records call that stored it to the end of the S3 PUT of the object holding it; the
"excluding buffer" figure subtracts the time the record waited in the delivery buffer for the interval
hint (its batch's start minus its arrival in the buffer). Writes .bdml/reports/bench/bench-stream.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from producers.stream.records import RecordKind  # noqa: E402
from services import aws  # noqa: E402
from services.objectstore import ObjectStore, S3Uri  # noqa: E402
from services.settings import (  # noqa: E402
    BufferingHints,
    StreamingSettings,
    get_settings,
)
from services.stack.process import listener_pid, status_mb  # noqa: E402
from streaming.job import RunReport, RunRequest, StreamRun  # noqa: E402
from streaming.state import StateStore  # noqa: E402

TARGET_RPS = 5_000
TARGET_P95_S = 2.0


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 3),
        "p95": round(cuts[94], 3),
        "p99": round(cuts[98], 3),
        "max": round(max(values), 3),
    }


def rss_mb(pid: int | None) -> float | None:
    """Resident memory of another process now (MiniStack is long-lived and shared: its lifetime peak,
    VmHWM, says more about everything else it served than about this run)."""
    value = None if pid is None else status_mb(pid, "VmRSS")
    return None if value is None else round(value, 1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--rate", type=float, default=None, help="target records/s (default: flat out)")
    parser.add_argument("--buffer-interval", type=int, default=1)
    parser.add_argument("--buffer-size", type=int, default=5)
    parser.add_argument("--malformed-share", type=float, default=0.01)
    parser.add_argument("--out", type=Path, help="Folder for the results (default: .bdml/reports/bench).")
    args = parser.parse_args()

    settings = get_settings()
    args.out = args.out or settings.stack.home / "reports" / "bench"
    cfg = StreamingSettings(
        app=f"bench{args.shards}",
        root_prefix="bench-stream/",
        shards=args.shards,
        buffering=BufferingHints(size_mib=args.buffer_size, interval_s=args.buffer_interval),
    )
    # A clean slate: no checkpoint, no outbox, no earlier objects (a reused stream is read from its end
    # of the previous run by the fresh consumer: LATEST is not used, so it is deleted too).
    cfg.state_path(settings).unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(str(cfg.state_path(settings)) + suffix).unlink(missing_ok=True)
    store = ObjectStore(settings)
    store.ensure_bucket(cfg.bucket_name(settings))
    store.delete_prefix(S3Uri(cfg.bucket_name(settings), cfg.root_prefix))
    kinesis = aws.client("kinesis", settings)
    try:
        kinesis.delete_stream(StreamName=cfg.input_stream, EnforceConsumerDeletion=True)
        time.sleep(0.5)
    except kinesis.exceptions.ResourceNotFoundException:
        pass

    # Generated before the first put (the generator is test harness, not pipeline); no oversize records
    # (the producer rejects them before Kinesis: they cost memory and measure nothing here).
    request = RunRequest(
        records=args.records,
        rate=args.rate,
        shards=args.shards,
        malformed_share=args.malformed_share,
        kinds=(RecordKind.BAD_JSON, RecordKind.MISSING_FIELD, RecordKind.WRONG_TYPE),
        pregenerate=True,
    )
    report = StreamRun(settings, cfg).run(request)
    result = summarise(report, cfg, settings, args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-stream.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def summarise(
    report: RunReport, cfg: StreamingSettings, settings: object, args: argparse.Namespace
) -> dict[str, object]:
    state = StateStore(cfg.state_path(settings))  # type: ignore[arg-type]
    put_at = {p.record_id: p.put_at for p in report.produce.puts}
    raw, excluding = [], []
    last_delivery = 0.0
    for record_id, enqueued, started, delivered in state.delivery_times(cfg.destination.name):
        if record_id not in put_at:
            continue
        raw.append(delivered - put_at[record_id])
        excluding.append(delivered - put_at[record_id] - max(0.0, started - enqueued))
        last_delivery = max(last_delivery, delivered)
    first_put = min(put_at.values())
    produced = len(report.produce.puts) + len(report.produce.rejected)
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    put_times = sorted(put_at.values())
    offered = len(put_times) / (put_times[-1] - put_times[0]) if len(put_times) > 1 else None
    ministack_mb = rss_mb(listener_pid(4566))
    to_s3 = last_delivery - first_put
    result: dict[str, object] = {
        "records": produced,
        "shards": args.shards,
        "buffering": {"size_mib": args.buffer_size, "interval_s": args.buffer_interval},
        "reconciled": report.ok,
        "records_per_second_offered": offered and round(offered, 1),
        "records_per_second_processed": round(report.records_per_second, 1),
        "records_per_second_to_s3": round(produced / to_s3, 1) if to_s3 > 0 else None,
        "seconds_to_processed": round(report.seconds_to_processed, 2),
        "seconds_to_last_destination_object": round(to_s3, 2),
        "latency_put_to_s3_s": percentiles(raw),
        "latency_put_to_s3_excluding_buffer_s": percentiles(excluding),
        "memory_mb": {
            "bdml process peak (consumer, analytics, delivery)": round(self_mb, 1),
            "producer process peak": round(children_mb, 1),
            "ministack rss after the run": ministack_mb,
        },
        "analytics_seconds": report.consumer["analytics_seconds"],
        "micro_batches": report.consumer["micro_batches"],
        "deliveries": report.pumps,
        "targets": {"records_per_second": TARGET_RPS, "p95_s_excluding_buffer": TARGET_P95_S},
    }
    p95 = percentiles(excluding).get("p95", float("inf"))
    result["meets_targets"] = bool(report.records_per_second >= TARGET_RPS and p95 < TARGET_P95_S)
    state.close()
    return result


if __name__ == "__main__":
    main()
