"""Typed settings of the streaming pipeline: the active profile's ``[stream]`` table, overridden by
environment variables ``BDML_STREAM__<FIELD>``, e.g.
``BDML_STREAM__DELIVERY=firehose`` for real Firehose, ``BDML_STREAM__BUFFER_INTERVAL_S=60``.

Names are per application: the checkpoint database, the Kinesis stream and the delivery streams all carry
``app``, so tests and benchmarks run beside the demo without sharing state."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.settings import DeployedOverlay, ProfileSection, Settings


class BufferingHints(BaseModel):
    """Firehose's buffering hints: deliver when either is reached. Their AWS ranges are enforced."""

    size_mib: int = Field(default=5, ge=1, le=128)
    interval_s: int = Field(default=5, ge=0, le=900)


class DeliveryStreamConfig(BaseModel):
    """One delivery stream: the prefixes take Firehose's expressions (``!{timestamp:…}``,
    ``!{firehose:error-output-type}``, ``!{firehose:random-string}``)."""

    name: str
    prefix: str
    error_prefix: str
    buffering: BufferingHints = Field(default_factory=BufferingHints)


class StreamingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BDML_STREAM__", env_nested_delimiter="__", extra="ignore")

    app: str = "bdml"
    shards: int = Field(default=2, ge=1, le=64)
    bucket: str | None = None  # None: the processed bucket of the active settings
    root_prefix: str = "stream/"
    # local: our AWS-contract-exact delivery stream (MiniStack's Firehose drops ProcessingFailed records);
    # firehose: the real service (AWS, or an emulator that honours the contract).
    delivery: Literal["local", "firehose"] = "local"
    buffering: BufferingHints = Field(default_factory=BufferingHints)
    transform_memory_mb: int = 256
    processor_retries: int = Field(default=3, ge=0, le=300)  # Firehose's default for the Lambda processor
    processor_buffer_mib: float = Field(
        default=1.0, ge=0.2, le=3.0
    )  # Firehose's Lambda processor buffer size
    lambda_role_arn: str = "arn:aws:iam::000000000000:role/bdml-stream-lambda"  # emulator placeholder
    # True when a deploy created the stream, functions and delivery streams (`bdml deploy aws apply`):
    # a run then uses them as they are and creates or updates nothing.
    provisioned: bool = False
    # Where the stream SQL runs: our consumer (reads Kinesis here), or the deployed Lambda on the stream's
    # event source (`bdml deploy aws apply --stack core` records "lambda").
    analytics: Literal["consumer", "lambda"] = "consumer"
    # Analytics: tumbling windows on event time.
    window_seconds: int = Field(default=10, ge=1, le=900)
    watermark_delay_s: float = Field(default=2.0, ge=0)
    allowed_lateness_s: float = Field(default=5.0, ge=0)
    # When no record came for this long, the watermark advances with the wall clock (minus the delay), so
    # the last windows of a quiet stream still fire.
    idle_watermark_s: float = Field(default=10.0, gt=0)
    # Consumer.
    max_batch_records: int = Field(default=10_000, ge=1, le=10_000)  # per GetRecords call and per micro-batch
    poll_interval_s: float = Field(default=0.2, ge=0.2)  # AWS allows 5 GetRecords per second per shard
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    state_dir: Path | None = None  # None: <stack.home>/stream

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence as for Settings: explicit arguments > BDML_STREAM__* > what a deploy recorded > the
        # profile's [stream] table.
        return (
            init_settings,
            env_settings,
            DeployedOverlay(settings_cls, "stream"),
            ProfileSection(settings_cls, "stream"),
        )

    @model_validator(mode="after")
    def _names(self) -> StreamingSettings:
        if not self.app.replace("-", "").isalnum():
            raise ValueError(f"app {self.app!r} must be letters, digits and dashes (it is part of AWS names)")
        return self

    # --- derived names --------------------------------------------------------------------------------
    @property
    def input_stream(self) -> str:
        return f"{self.app}-users"

    def bucket_name(self, settings: Settings) -> str:
        return self.bucket or settings.s3.processed_bucket

    def state_path(self, settings: Settings) -> Path:
        return (self.state_dir or settings.stack.home / "stream") / f"{self.app}.sqlite"

    @property
    def transform_function(self) -> str:
        return f"{self.app}-firehose-transform"

    @property
    def analytics_function(self) -> str:
        return f"{self.app}-stream-analytics"

    def _delivery(self, kind: str, prefix: str) -> DeliveryStreamConfig:
        root = self.root_prefix
        return DeliveryStreamConfig(
            name=f"{self.app}-{kind}",
            prefix=f"{root}{prefix}/!{{timestamp:yyyy/MM/dd/HH}}/",
            error_prefix=f"{root}errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd/HH}}/",
            buffering=self.buffering,
        )

    @property
    def destination(self) -> DeliveryStreamConfig:
        return self._delivery("destination", "destination")

    @property
    def aggregates(self) -> DeliveryStreamConfig:
        return self._delivery("aggregates", "aggregates")

    @property
    def errors(self) -> DeliveryStreamConfig:
        # The analytics' error stream: malformed, late and producer-rejected records, with reasons.
        return self._delivery("errors", "errors/rejected")

    def deliveries(self) -> tuple[DeliveryStreamConfig, ...]:
        return (self.destination, self.aggregates, self.errors)
