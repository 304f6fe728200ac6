"""`bdml stream …`: run the whole streaming pipeline once and reconcile it, or run its parts for as long as
you like (produce, analytics, tail). Mounted on the root CLI as ``bdml stream``; runnable alone as
``python -m streaming.cli``."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, get_args

import typer

from producers.stream.kinesis import KinesisProducer
from services import aws, runs
from services.choices import one_of
from services.console import make_console
from services.objectstore import ObjectStore, S3Uri
from services.reconcile import steps_table
from services.settings import BufferingHints, StreamingSettings, get_settings
from services.stack.cli import needs_stack
from streaming.job import (
    RunReport,
    RunRequest,
    StreamRun,
    open_consumer,
    prepare,
    records_source,
    reject_sink,
)
from streaming.state import StateStore
from streaming.streams import ensure_stream

app = typer.Typer(
    help="Streaming pipeline: producer → Kinesis → stream SQL → Firehose + Lambda → S3.", no_args_is_help=True
)
console = make_console()

AppName = Annotated[str | None, typer.Option("--app", help="Application name (prefix of every resource).")]
Seed = Annotated[int | None, typer.Option(help="Generator seed: the same seed gives the same record ids.")]
Malformed = Annotated[
    float,
    typer.Option(
        min=0.0, max=1.0, help="Share of malformed records (bad JSON, missing, wrong types, oversize)."
    ),
]
Url = Annotated[str | None, typer.Option(help="Fetch randomuser-style records from this URL instead.")]
Shards = Annotated[
    int | None, typer.Option(min=1, max=500, help="Shards of the Kinesis stream when it is created.")
]
DELIVERIES = get_args(StreamingSettings.model_fields["delivery"].annotation)
DeliveryOpt = Annotated[
    str | None,
    typer.Option(
        callback=one_of(DELIVERIES),
        help="local (our AWS-exact delivery stream) or firehose (the real service).",
    ),
]
Interval = Annotated[int | None, typer.Option(min=0, max=900, help="Buffering hint: seconds (0–900).")]
SizeMiB = Annotated[int | None, typer.Option(min=1, max=128, help="Buffering hint: MiB (1–128).")]
Rate = Annotated[
    float | None, typer.Option(min=0.001, help="Target records/s (default: as fast as possible).")
]


def _cfg(
    app_name: str | None, delivery: str | None, interval: int | None, size: int | None
) -> StreamingSettings:
    base = get_settings().stream
    overrides: dict[str, Any] = {}
    if app_name:
        overrides["app"] = app_name
    if delivery:
        overrides["delivery"] = delivery
    if interval is not None or size is not None:
        overrides["buffering"] = BufferingHints(
            size_mib=size if size is not None else base.buffering.size_mib,
            interval_s=interval if interval is not None else base.buffering.interval_s,
        )
    return StreamingSettings(**{**base.model_dump(), **overrides})


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        console.print(f"[yellow]{signal.Signals(signum).name}: finishing the current batch, then stopping[/]")
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


@app.command()
@needs_stack("ministack")
def run(
    records: Annotated[int, typer.Option(min=1, help="Records to produce.")] = 2000,
    rate: Rate = None,
    shards: Shards = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Also copy the JSON report here (it is always kept under .bdml/reports)."),
    ] = None,
    seed: Seed = None,
    malformed_share: Malformed = 0.02,
    url: Url = None,
    app_name: AppName = None,
    delivery: DeliveryOpt = None,
    buffer_interval: Interval = None,
    buffer_size: SizeMiB = None,
) -> None:
    """Produce N records, analyse and deliver them, then reconcile by record id (exit 1 if it fails)."""
    settings = get_settings()
    cfg = _cfg(app_name, delivery, buffer_interval, buffer_size)
    request = RunRequest(records, rate, shards, seed, malformed_share, url)
    options = {"app": cfg.app, "delivery": cfg.delivery, "analytics": cfg.analytics, "records": records,
               "rate": rate, "seed": seed, "malformed_share": malformed_share}  # fmt: skip
    with runs.recording(settings, "stream", **options) as record:
        result = StreamRun(settings, cfg, console).run(request)
        record.title = print_report(result)
        placement = result.reconciliation.placement
        record.figures = {k: placement.get(k, 0) for k in ("destination", "filtered", "error")}
        record.figures |= {"records": records, "records_per_second": round(result.records_per_second)}
        path = record.finish(result.as_dict(), ok=result.ok, copy_to=report)
    console.print(f"report: {path}" + (f"; copied to {report}" if report else ""))
    if not result.ok:
        for problem in result.reconciliation.problems[:20]:
            console.print(f"[red]✗ {problem}[/]", soft_wrap=True)
        if not result.windows_check[0]:
            console.print(f"[red]✗ {result.windows_check[1]}[/]")
        raise typer.Exit(1)


@app.command()
@needs_stack("ministack")
def produce(
    records: Annotated[int, typer.Option(min=0, help="Records to send; 0 = until Ctrl-C / SIGTERM.")] = 0,
    rate: Rate = 100.0,
    seed: Seed = None,
    malformed_share: Malformed = 0.02,
    url: Url = None,
    shards: Shards = None,
    app_name: AppName = None,
) -> None:
    """Send records to the Kinesis stream (created if missing); rejects go to the error stream."""
    settings = get_settings()
    cfg = _cfg(app_name, None, None, None)
    kinesis = aws.client("kinesis", settings)
    ensure_stream(kinesis, cfg.input_stream, shards or cfg.shards)
    store = StateStore(cfg.state_path(settings))
    stop = _stop_on_signals()
    source = records_source(records, seed, malformed_share, url)

    def until_stopped() -> Any:
        for record in source:
            if stop.is_set():
                return
            yield record

    producer = KinesisProducer(
        kinesis, cfg.input_stream, rate, reject_sink=reject_sink(store, cfg), progress=True
    )
    result = producer.send(until_stopped(), total=records or None)
    step = result.step()
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted((step.detail["reject_reasons"] or {}).items()))
    console.print(
        f"sent {step.rows_out:,} records to {cfg.input_stream} in {step.seconds:.1f}s "
        f"({step.rows_out / max(step.seconds, 1e-9):,.0f}/s); rejected {step.rows_rejected:,}"
        + (f" ({reasons})" if reasons else "")
        + f"; retried entries {result.retried_entries:,}"
    )


@app.command()
@needs_stack("ministack")
def analytics(
    app_name: AppName = None,
    delivery: DeliveryOpt = None,
    buffer_interval: Interval = None,
    buffer_size: SizeMiB = None,
    until_idle: Annotated[
        float | None,
        typer.Option(min=0.0, help="Stop after this many seconds without records, once all is delivered."),
    ] = None,
) -> None:
    """Run the analytics consumer: read every shard, checkpoint, deliver; stop with Ctrl-C or SIGTERM."""
    settings = get_settings()
    cfg = _cfg(app_name, delivery, buffer_interval, buffer_size)
    if cfg.analytics == "lambda":  # a second reader would analyse and deliver every record twice
        console.print(
            f"[red]✗[/] {cfg.analytics_function} (the deployed Lambda) analyses {cfg.input_stream}: "
            "no consumer is needed; set BDML_STREAM__ANALYTICS=consumer to run one anyway"
        )
        raise typer.Exit(2)
    res = prepare(settings, cfg)
    consumer = open_consumer(res, StateStore(cfg.state_path(settings)))
    stop = _stop_on_signals()
    console.print(
        f"analytics on {cfg.input_stream} ({len(consumer.iterators)} shards) → s3://{res.bucket}/{cfg.root_prefix}"
        f" via {cfg.delivery} delivery; state {cfg.state_path(settings)}"
    )
    last_seen = time.monotonic()
    with console.status("waiting for records…") as status:
        while not stop.is_set():
            got = consumer.poll_once()
            if got:
                last_seen = time.monotonic()
            stats = consumer.stats
            status.update(
                f"{stats.records:,} records in {stats.micro_batches:,} micro-batches · "
                + " · ".join(f"{k} {v:,}" for k, v in sorted(stats.outcomes.items()))
                + f" · windows {stats.windows_emitted:,} · undelivered {consumer.store.undelivered():,}"
            )
            idle = time.monotonic() - last_seen
            if until_idle is not None and idle >= until_idle and not consumer.store.undelivered():
                break
    # A graceful stop (idle, SIGTERM, Ctrl-C) ends the input: every open window fires and is delivered,
    # so no window state is left for the next run on this app to pick up and count.
    with console.status("firing the open windows and delivering (buffering hints honoured)…"):
        consumer.finish()
    console.print(
        f"stopped after {consumer.stats.records:,} records ("
        + ", ".join(f"{k} {v:,}" for k, v in sorted(consumer.stats.outcomes.items()))
        + "); "
        f"windows emitted {consumer.stats.windows_emitted:,}"
    )
    consumer.close()


WHAT = ("destination", "errors", "aggregates", "all")


@app.command()
@needs_stack("ministack")
def tail(
    what: Annotated[
        str, typer.Argument(callback=one_of(WHAT), help=f"Which output: {', '.join(WHAT)}.")
    ] = "all",
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="Print the last N lines.")] = 20,
    since: Annotated[
        str | None, typer.Option(help="Only objects written since: 10m, 2h, 1d or an ISO time (UTC).")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new objects.")] = False,
    app_name: AppName = None,
) -> None:
    """Print the last JSON lines the delivery streams wrote to S3, newest last, across all of them."""
    cutoff = parse_since(since) if since else None
    settings = get_settings()
    cfg = _cfg(app_name, None, None, None)
    store = ObjectStore(settings)
    prefix = S3Uri(cfg.bucket_name(settings), cfg.root_prefix + ("" if what == "all" else what))
    if not store.bucket_exists(prefix.bucket):
        console.print(
            f"bucket {prefix.bucket} does not exist yet: `bdml stream run` (app {cfg.app}) makes it"
        )
        raise typer.Exit(1)
    objects = sorted(store.entries(prefix, cutoff), key=lambda e: (e[2], e[0].key))
    if not objects:
        window = f" since {since}" if since else ""
        console.print(
            f"nothing delivered under {prefix}{window} (app {cfg.app}): run `bdml stream run` first"
        )
    printed = _print_last(store, [uri for uri, _, _ in objects], lines)
    stop = _stop_on_signals()
    while follow and not stop.wait(1.0):
        fresh = sorted(store.entries(prefix, cutoff), key=lambda e: (e[2], e[0].key))
        printed |= _print_last(store, [uri for uri, _, _ in fresh if uri.key not in printed], None)


def _print_last(store: ObjectStore, objects: list[S3Uri], limit: int | None) -> set[str]:
    """Print the last ``limit`` lines (all when None) of these objects, oldest object first; reads only
    as many of the newest objects as the lines need."""
    chosen: list[tuple[S3Uri, list[str]]] = []
    wanted = limit
    for uri in reversed(objects):
        body = [line for line in store.read(uri).decode(errors="replace").splitlines() if line.strip()]
        if wanted is not None:
            body = body[-wanted:]
            wanted -= len(body)
        chosen.append((uri, body))
        if wanted is not None and wanted <= 0:
            break
    for uri, body in reversed(chosen):
        for line in body:
            sys.stdout.write(f"{uri.key}\t{line}\n")
    sys.stdout.flush()
    return {uri.key for uri in objects}


def parse_since(value: str) -> float:
    """Epoch seconds from ``10m`` / ``2h`` / ``1d`` / ``30s`` ago, or an ISO time (UTC unless it says)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[:-1].isdigit() and value[-1:] in units:
        return time.time() - int(value[:-1]) * units[value[-1]]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: give 10m, 2h, 1d or an ISO time", param_hint="--since"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def print_report(result: RunReport) -> str:
    """Print the reconciliation; return its title."""
    rec = result.reconciliation
    title = f"stream run · {result.delivery} delivery · s3://{result.bucket}"
    table = steps_table(title, rec.steps, with_rate=False)
    console.print(table)
    for check in rec.checks:
        console.print(f"  ✓ {check}")
    mark = "✓" if result.windows_check[0] else "✗"
    console.print(f"  {mark} {result.windows_check[1]}")
    if rec.error_reasons:
        console.print(
            "  errors by reason: " + ", ".join(f"{k} ×{v}" for k, v in sorted(rec.error_reasons.items()))
        )
    console.print(
        f"  {result.records_per_second:,.0f} records/s to processed ({result.seconds_to_processed:.1f}s); "
        f"all delivered after {result.seconds_total:.1f}s (includes the buffering interval)"
    )
    for name, stats in result.pumps.items():
        console.print(
            f"  delivery {name}: {stats['batches']} objects/batches · {stats['ok']:,} ok · "
            f"{stats['dropped']:,} dropped (repeats) · {stats['failed']:,} to the error prefix"
        )

    return title


if __name__ == "__main__":
    app()
