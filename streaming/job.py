"""The streaming pipeline, wired: resources (bucket, Kinesis stream, transform Lambda, delivery streams),
the consumer with its deliveries, and ``StreamRun`` — produce N records, analyse and deliver them, then
reconcile by record id and report."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from lambdas.stream_analytics.engine import Analytics
from producers.stream.kinesis import KinesisProducer, ProduceReport, Rejected
from producers.stream.records import MALFORMED_KINDS, ProducedRecord, RecordKind, UserGenerator
from producers.stream.source import from_url
from services import aws, lambda_package
from services.console import make_console
from services.objectstore import ObjectStore
from services.settings import Settings, StreamingSettings
from streaming.consumer import StreamConsumer, window_config
from streaming.delivery.base import Delivery, DeliveryPump
from streaming.delivery.firehose import FirehoseDelivery, ensure_delivery_stream
from streaming.delivery.local import LocalDeliveryStream
from streaming.outputs import Outputs, read_outputs, read_windows
from streaming.reconcile import Reconciliation, check_windows, reconcile
from streaming.state import StateStore
from streaming.streams import StreamError, ensure_stream

STALL_TIMEOUT_S = 120.0


@dataclass
class Resources:
    settings: Settings
    cfg: StreamingSettings
    bucket: str
    objects: ObjectStore
    kinesis: Any
    transform_arn: str
    shards: int


def prepare(settings: Settings, cfg: StreamingSettings, shards: int | None = None) -> Resources:
    """Create what is missing (idempotent): bucket, Kinesis stream, transform Lambda, Firehose streams.
    When a deploy provisioned them (``cfg.provisioned``), only look them up: nothing is created or changed."""
    bucket = cfg.bucket_name(settings)
    objects = ObjectStore(settings)
    kinesis = aws.client("kinesis", settings)
    if cfg.provisioned:
        return _provisioned(settings, cfg, bucket, objects, kinesis)
    objects.ensure_bucket(bucket)
    open_shards = ensure_stream(kinesis, cfg.input_stream, shards or cfg.shards)
    arn = lambda_package.deploy(  # stdlib only: no boto3 layer, even on MiniStack
        aws.client("lambda", settings),
        lambda_package.build("firehose_transform"),
        cfg.transform_function,
        cfg.lambda_role_arn,
        memory_mb=cfg.transform_memory_mb,
        timeout_s=60,
    )
    if cfg.delivery == "firehose":
        firehose = aws.client("firehose", settings)
        for delivery in cfg.deliveries():
            ensure_delivery_stream(firehose, delivery, bucket, cfg.lambda_role_arn, arn)
    return Resources(settings, cfg, bucket, objects, kinesis, arn, open_shards)


def _provisioned(
    settings: Settings, cfg: StreamingSettings, bucket: str, objects: ObjectStore, kinesis: Any
) -> Resources:
    try:
        summary = kinesis.describe_stream_summary(StreamName=cfg.input_stream)["StreamDescriptionSummary"]
        function = aws.client("lambda", settings).get_function_configuration(
            FunctionName=cfg.transform_function
        )
        if cfg.delivery == "firehose":
            firehose = aws.client("firehose", settings)
            for delivery in cfg.deliveries():
                firehose.describe_delivery_stream(DeliveryStreamName=delivery.name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        raise StreamError(
            f"{exc.response['Error'].get('Message')}: the stream resources of app {cfg.app!r} come from "
            "`bdml deploy aws apply --stack core` (stream.provisioned is set): apply it, "
            "or check BDML_STREAM__APP"
        ) from None
    shards = int(summary.get("OpenShardCount", cfg.shards))
    return Resources(settings, cfg, bucket, objects, kinesis, str(function["FunctionArn"]), shards)


def deliveries(res: Resources) -> dict[str, Delivery]:
    cfg = res.cfg
    if cfg.delivery == "firehose":
        firehose = aws.client("firehose", res.settings)
        return {d.name: FirehoseDelivery(d, firehose) for d in cfg.deliveries()}
    lam = aws.client("lambda", res.settings, read_timeout=120)
    return {
        d.name: LocalDeliveryStream(
            d,
            res.objects,
            res.bucket,
            lam,
            res.transform_arn,
            res.settings.aws.region,
            cfg.processor_retries,
            cfg.processor_buffer_mib,
        )
        for d in cfg.deliveries()
    }


def open_consumer(res: Resources, store: StateStore, background_delivery: bool = True) -> StreamConsumer:
    """The consumer over ``store``; its delivery pump runs in a thread of its own (own connection)."""
    pump = DeliveryPump(StateStore(store.path), deliveries(res))
    if background_delivery:
        pump.start()
    engine = Analytics(window_config(res.cfg))
    return StreamConsumer(
        aws.client("kinesis", res.settings), res.cfg.input_stream, res.cfg, store, engine, pump
    )


def reject_sink(store: StateStore, cfg: StreamingSettings) -> Any:
    """Producer rejects go to the error stream (once per record id), with their reasons."""

    def sink(rejected: list[Rejected]) -> None:
        docs = [
            (r.record.record_id, json.dumps(r.error_doc(), ensure_ascii=False).encode()) for r in rejected
        ]
        store.record_rejects(cfg.errors.name, docs)

    return sink


def records_source(
    count: int,
    seed: int | None,
    malformed_share: float,
    url: str | None,
    kinds: tuple[RecordKind, ...] = MALFORMED_KINDS,
) -> Iterator[ProducedRecord]:
    source = from_url(url) if url else iter(UserGenerator(seed, malformed_share, kinds))
    return itertools.islice(source, count) if count else source


def produce_job(
    settings: Settings, cfg: StreamingSettings, request: RunRequest, out: Connection, progress: bool
) -> None:
    """The producer of a run, in a process of its own: generating and sending records then does not
    compete with the consumer for the GIL (the two are the run's heaviest Python loops)."""
    store = StateStore(cfg.state_path(settings))
    producer = KinesisProducer(
        aws.client("kinesis", settings),
        cfg.input_stream,
        rate=request.rate,
        reject_sink=reject_sink(store, cfg),
        progress=progress,
    )
    source: Iterable[ProducedRecord] = records_source(
        request.records, request.seed, request.malformed_share, request.url, request.kinds
    )
    if request.pregenerate:  # a benchmark times the pipeline, not the test-data generator
        source = list(source)
    out.send(producer.send(source, total=request.records))
    store.close()


def produce_in_subprocess(
    settings: Settings, cfg: StreamingSettings, request: RunRequest, progress: bool
) -> ProduceReport:
    context = multiprocessing.get_context("spawn")  # not fork: the consumer's threads are running
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=produce_job, args=(settings, cfg, request, sender, progress), name="stream-producer"
    )
    process.start()
    sender.close()
    try:
        report: ProduceReport = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(
            f"the producer process died (exit code {process.exitcode}); see its output above"
        ) from None
    process.join()
    return report


@dataclass
class RunRequest:
    records: int = 2000
    rate: float | None = None
    shards: int | None = None
    seed: int | None = None
    malformed_share: float = 0.02
    url: str | None = None
    kinds: tuple[RecordKind, ...] = MALFORMED_KINDS
    pregenerate: bool = False  # generate every record before the first put


@dataclass
class RunReport:
    request: RunRequest
    delivery: str
    bucket: str
    produce: ProduceReport
    reconciliation: Reconciliation
    windows_check: tuple[bool, str]
    consumer: dict[str, Any]
    pumps: dict[str, dict[str, int]]
    seconds_to_processed: float
    seconds_total: float
    transform_log: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reconciliation.ok and self.windows_check[0]

    @property
    def records_per_second(self) -> float:
        n = len(self.produce.puts) + len(self.produce.rejected)
        return n / self.seconds_to_processed if self.seconds_to_processed else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "request": vars(self.request),
            "delivery": self.delivery,
            "bucket": self.bucket,
            "seconds_to_processed": round(self.seconds_to_processed, 3),
            "seconds_total": round(self.seconds_total, 3),
            "records_per_second": round(self.records_per_second, 1),
            "produce": {"calls": self.produce.calls, "retried_entries": self.produce.retried_entries},
            "consumer": self.consumer,
            "deliveries": self.pumps,
            "windows_check": {"ok": self.windows_check[0], "detail": self.windows_check[1]},
            "reconciliation": self.reconciliation.as_dict(),
            "transform_failures_logged": self.transform_log[-20:],
        }


class StreamRun:
    """One bounded run: produce → Kinesis → analytics → delivery → S3, then reconcile."""

    def __init__(self, settings: Settings, cfg: StreamingSettings, console: Console | None = None) -> None:
        self.settings = settings
        self.cfg = cfg
        self.console = console or make_console()

    def run(self, request: RunRequest) -> RunReport:
        if self.cfg.analytics == "lambda":
            return self._run_on_lambda(request)
        res = prepare(self.settings, self.cfg, request.shards)
        path = self.cfg.state_path(self.settings)
        consumer = open_consumer(res, StateStore(path))
        # Windows and outputs an earlier session left behind (a consumer killed before it could fire
        # them) belong to that session: deliver them now, before this run starts counting its own.
        with self.console.status("delivering what an earlier session left open…"):
            consumer.finish()
        targets: dict[str, dict[str, str] | None] = {"value": None}
        stop = threading.Event()
        failure: list[BaseException] = []

        def consume() -> None:
            try:
                consumer.run(stop, lambda: targets["value"])
            except BaseException as exc:  # surfaced in the main thread below
                failure.append(exc)

        started = time.time()
        thread = threading.Thread(target=consume, name="stream-consumer", daemon=True)
        thread.start()
        try:
            produced = produce_in_subprocess(self.settings, self.cfg, request, self.console.is_terminal)
            wanted = targets["value"] = produced.last_sequence_by_shard()
            with self.console.status("analytics catching up…"):
                self._wait_caught_up(thread, consumer, wanted)
        finally:
            stop.set()
            thread.join()
        if failure:
            raise failure[0]
        # Timed from the first put: the producer process's start-up is not pipeline time.
        first_put = min((p.put_at for p in produced.puts), default=started)
        processed = time.time() - first_put
        with self.console.status("delivering (buffering hints honoured)…"):
            consumer.finish()
        total = time.time() - first_put
        consumer.pump.stop()
        report = self._report(res, consumer, produced, request, started, processed, total)
        consumer.close()
        return report

    def _run_on_lambda(self, request: RunRequest) -> RunReport:
        """The stream SQL runs in the deployed Lambda on the stream's event source: produce (producer
        rejects go to the error stream from here), wait until S3 shows what every record became, reconcile."""
        res = prepare(self.settings, self.cfg, request.shards)
        store = StateStore(self.cfg.state_path(self.settings))
        pump = DeliveryPump(StateStore(store.path), deliveries(res)).start()
        started = time.time()
        try:
            produced = produce_in_subprocess(self.settings, self.cfg, request, self.console.is_terminal)
            first_put = min((p.put_at for p in produced.puts), default=started)
            with self.console.status(f"waiting for {self.cfg.analytics_function} and the delivery streams…"):
                outputs = self._wait_delivered(res, produced)
            processed = time.time() - first_put
        finally:
            pump.stop()
        pump.pump()  # producer rejects still in the outbox
        rec = reconcile(produced, None, outputs)
        accepted = rec.placement["destination"] + rec.placement["filtered"]
        aggregates = [f"firehose:{self.cfg.aggregates.name}"]
        windows = read_windows(res.objects, self.cfg, res.bucket, aggregates, started)
        report = RunReport(
            request=request,
            delivery=self.cfg.delivery,
            bucket=res.bucket,
            produce=produced,
            reconciliation=rec,
            windows_check=check_windows(windows, accepted),
            consumer={"host": "lambda", "function": self.cfg.analytics_function},
            pumps={name: vars(stats) for name, stats in pump.stats.items()},
            seconds_to_processed=processed,
            seconds_total=time.time() - first_put,
        )
        store.close()
        return report

    def _wait_delivered(self, res: Resources, produced: ProduceReport) -> Outputs:
        """Poll S3 until every record that should land there has (destination or error prefix); give up
        with the counts when nothing new arrives for STALL_TIMEOUT_S."""
        wanted = {p.record_id for p in produced.puts if p.expected != "filtered"}
        wanted |= {r.record.record_id for r in produced.rejected}
        seen, last_change = -1, time.monotonic()
        while True:
            outputs = read_outputs(res.objects, self.cfg, res.bucket)
            landed = sum(
                1
                for i in wanted
                if outputs.destination[i] or outputs.errors[i] or outputs.processing_failed[i]
            )
            if landed == len(wanted):
                return outputs
            if landed != seen:
                seen, last_change = landed, time.monotonic()
            elif time.monotonic() - last_change > STALL_TIMEOUT_S:
                raise TimeoutError(
                    f"{landed:,} of {len(wanted):,} records reached S3 and nothing new came for "
                    f"{STALL_TIMEOUT_S:.0f} s: see the logs of {self.cfg.analytics_function} and the "
                    f"delivery streams {', '.join(d.name for d in self.cfg.deliveries())}"
                )
            time.sleep(2)

    @staticmethod
    def _wait_caught_up(thread: threading.Thread, consumer: StreamConsumer, targets: dict[str, str]) -> None:
        """Wait for the consumer thread to reach the producer's last sequence numbers; give up (with the
        positions) when it stops making progress, rather than hang."""
        seen, last_change = -1, time.monotonic()
        while thread.is_alive():
            thread.join(0.2)
            if consumer.stats.records != seen:
                seen, last_change = consumer.stats.records, time.monotonic()
            elif time.monotonic() - last_change > STALL_TIMEOUT_S:
                raise TimeoutError(
                    f"the consumer read nothing new for {STALL_TIMEOUT_S:.0f} s; "
                    f"it needs shards at {targets}, "
                    f"checkpoints are {StateStore(consumer.store.path).checkpoints(consumer.stream)}"
                )

    def _report(
        self,
        res: Resources,
        consumer: StreamConsumer,
        produced: ProduceReport,
        request: RunRequest,
        started: float,
        processed: float,
        total: float,
    ) -> RunReport:
        ids = [p.record_id for p in produced.puts] + [r.record.record_id for r in produced.rejected]
        ledger = consumer.store.outcomes(ids)
        outputs = read_outputs(res.objects, self.cfg, res.bucket)
        rec = reconcile(produced, ledger, outputs, consumer.stats.analytics_seconds)
        # Records accepted in *this* run (a rerun's repeats were accepted, and aggregated, the first time).
        accepted = consumer.stats.outcomes.get("destination", 0) + consumer.stats.outcomes.get("filtered", 0)
        keys = consumer.store.keys_since(self.cfg.aggregates.name, started)
        windows = read_windows(res.objects, self.cfg, res.bucket, keys, started)
        windows_check = check_windows(windows, accepted)
        transform_log: list[str] = []
        for d in consumer.pump.deliveries.values():
            transform_log += getattr(d, "transform_log", [])
        return RunReport(
            request=request,
            delivery=self.cfg.delivery,
            bucket=res.bucket,
            produce=produced,
            reconciliation=rec,
            windows_check=windows_check,
            consumer={
                "records": consumer.stats.records,
                "micro_batches": consumer.stats.micro_batches,
                "outcomes": consumer.stats.outcomes,
                "windows_emitted": consumer.stats.windows_emitted,
                "analytics_seconds": round(consumer.stats.analytics_seconds, 3),
            },
            pumps={name: vars(stats) for name, stats in consumer.pump.stats.items()},
            seconds_to_processed=processed,
            seconds_total=total,
            transform_log=transform_log,
        )
