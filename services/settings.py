"""Typed settings. A profile (embedded | compose | aws) is a TOML file of defaults; environment variables
``BDML_<SECTION>__<FIELD>`` override it. Profiles only choose endpoints and adapters: business logic reads
these values and never asks which profile is active."""

from __future__ import annotations

import json
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from services.dsn import Dsn, parse_dsn, with_credentials

REPO_ROOT = Path(__file__).resolve().parent.parent


class Profile(StrEnum):
    EMBEDDED = "embedded"
    COMPOSE = "compose"
    AWS = "aws"


PROFILE_FILES: dict[Profile, Path] = {
    Profile.EMBEDDED: REPO_ROOT / "services" / "profiles" / "embedded.toml",
    Profile.COMPOSE: REPO_ROOT / "services" / "profiles" / "compose.toml",
    Profile.AWS: REPO_ROOT / "deploy" / "aws" / "profile.toml",
}


class AwsSettings(BaseModel):
    """Where the AWS APIs live. ``endpoint_url`` None means real AWS."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    # Emulators accept any key; real AWS uses the default credential chain (never a key in a file).
    access_key_id: str | None = None
    secret_access_key: str | None = None


class S3Settings(BaseModel):
    raw_bucket: str = "bdml-raw"
    processed_bucket: str = "bdml-processed"
    # Multipart upload tuning (boto3 TransferConfig).
    multipart_threshold_mb: int = 16
    multipart_chunk_mb: int = 16
    max_concurrency: int = 4


def _valid_dsn(value: str, scheme: str) -> str:
    parse_dsn(value, scheme)  # ValueError → a validation error naming the setting
    return value


class MySQLSettings(BaseModel):
    dsn: str = "mysql://bdml@127.0.0.1:3306/bdml"
    # A DSN without a password takes it from this file (relative: under stack.home), made on first use
    # with a random password, readable by its owner only; `bdml up` creates the user with it. The
    # embedded profile keeps it per OS user, not per checkout: the server and its user are machine-wide.
    password_file: Path | None = None
    # Or from this Secrets Manager secret ({"username", "password"}), read when connecting (RDS).
    password_secret: str | None = None

    @field_validator("dsn")
    @classmethod
    def _parsable(cls, value: str) -> str:
        return _valid_dsn(value, "mysql")

    @property
    def url(self) -> Dsn:
        """The DSN's parts (checked when the settings were read)."""
        return parse_dsn(self.dsn, "mysql")


class RedshiftSettings(BaseModel):
    """The Redshift target. ``loader`` picks the adapter: ``copy_stdin`` streams text into a
    PostgreSQL-protocol server (the local stand-in); ``copy_s3`` issues Redshift ``COPY … FROM 's3://…'``."""

    dsn: str = "postgresql://postgres@127.0.0.1:5432/bdml"
    loader: Literal["copy_stdin", "copy_s3"] = "copy_stdin"
    iam_role: str | None = None
    password_secret: str | None = None  # a Secrets Manager secret ({"username", "password"}), read on use

    @field_validator("dsn")
    @classmethod
    def _parsable(cls, value: str) -> str:
        return _valid_dsn(value, "postgresql")

    @property
    def url(self) -> Dsn:
        """The DSN's parts (checked when the settings were read)."""
        return parse_dsn(self.dsn, "postgresql")


class HqlSettings(BaseModel):
    engine: Literal["duckdb", "spark", "hiveserver2"] = "duckdb"
    hiveserver2_host: str = "127.0.0.1"
    hiveserver2_port: int = 10000
    hiveserver2_auth: str = "NOSASL"
    hiveserver2_user: str = "bdml"
    # Memory the DuckDB engine may hold before it spills to the stack home. DuckDB fills whatever it is
    # given: 2M + 10M rows peaked at 7.9 GB under 8 GB and at 2.2 GB under 2 GB, no slower (measured).
    duckdb_memory_limit: str = "2GB"
    duckdb_threads: int = 2
    # The local Spark session's heap (in local mode the driver is also the executor). Spark's 1g default
    # leaves a multi-insert's cached source ~430 MB of storage memory and collects often; 2g made the
    # HQL on 1M performance rows ~10% faster (measured).
    spark_driver_memory: str = "2g"


class StackSettings(BaseModel):
    """The embedded stack: what ``bdml up`` starts and where it keeps its state."""

    home: Path = REPO_ROOT / ".bdml"
    ministack_port: int = 4566
    ministack_version: str = "1.5.33"
    manage_servers: bool = True  # start MariaDB/PostgreSQL when installed but stopped


class MlSettings(BaseModel):
    """The ML pipeline: where its objects go in S3, the endpoint and the local model server."""

    s3_prefix: str = "ml"  # under the processed bucket
    endpoint_name: str = "penguin-classifier"
    server_port: int = Field(default=8080, ge=1, le=65535)  # the local model server bdml starts
    # Appended to the Lambda, API and role names: tests and benchmarks keep the demo's deployment intact.
    name_suffix: str = ""
    # The endpoint as this machine reaches it when something else serves it (the compose model-server
    # container): deploying then points the Lambda at it and waits for it to load the model. None: bdml
    # starts the local model server itself.
    server_url: str | None = None


class WebSettings(BaseModel):
    """Where the web app sends uploads: the classify API and, when the API requires one (the AWS stack
    does), its key — kept server-side, never sent to the browser."""

    api_url: str | None = None
    api_key: SecretStr | None = None
    # The web app's own address when it runs elsewhere (a container): `bdml demo` uploads through it.
    # None: the demo starts the app in its own process.
    url: str | None = None


class DeploySettings(BaseModel):
    """What ``bdml deploy aws`` provisions: the stack prefix and the settings that cost money or reach the
    network. Every field is a CloudFormation parameter of one of the stacks in ``deploy/aws/templates``."""

    prefix: str = Field(default="bdml", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    artifacts_bucket: str | None = None  # None: "<processed bucket>-artifacts"
    log_retention_days: int = 14
    # An emulator's Lambda runtime may lack boto3, which AWS's python3.11 runtime ships: add it as a layer.
    boto3_layer: bool = False
    # Where the classify Lambda reaches the SageMaker runtime API: empty on AWS (the regional endpoint).
    sagemaker_runtime_url: str = ""
    api_rate_limit: int = Field(default=10, ge=1)
    api_burst_limit: int = Field(default=20, ge=1)
    # ml: SageMaker training (GPU) and the real-time endpoint.
    training_instance_type: str = "ml.g5.xlarge"
    endpoint_instance_type: str = "ml.m5.large"
    model_data_key: str = ""  # key of model.tar.gz in the artifacts bucket; empty: roles only, no endpoint
    # batch: EMR, RDS MySQL and Redshift live in an existing VPC; the databases admit one CIDR only.
    vpc_id: str = ""
    subnet_ids: list[str] = Field(default_factory=list)
    allowed_cidr: str = ""
    emr_release: str = "emr-7.5.0"
    emr_instance_type: str = "m5.xlarge"
    emr_core_instances: int = Field(default=2, ge=1)
    mysql_instance_class: str = "db.t3.micro"
    # RDS's CA bundle (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem, downloaded once):
    # the MySQL loader verifies the RDS certificate against it.
    rds_ca_bundle: Path | None = None
    redshift_node_type: str = "ra3.large"
    # monitoring
    alarm_email: str = ""

    def artifacts_bucket_name(self, processed_bucket: str) -> str:
        return self.artifacts_bucket or f"{processed_bucket}-artifacts"


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


class StreamingSettings(BaseModel):
    """The streaming pipeline (profile section ``[stream]``, variables ``BDML_STREAM__<FIELD>``, e.g.
    ``BDML_STREAM__DELIVERY=firehose``, ``BDML_STREAM__BUFFERING__INTERVAL_S=60``). Names are per
    application: the checkpoint database, the Kinesis stream and the delivery streams all carry ``app``,
    so tests and benchmarks run beside the demo without sharing state."""

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BDML_", env_nested_delimiter="__", extra="ignore")

    profile: Profile = Profile.EMBEDDED
    aws: AwsSettings = Field(default_factory=AwsSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    mysql: MySQLSettings = Field(default_factory=MySQLSettings)
    redshift: RedshiftSettings = Field(default_factory=RedshiftSettings)
    hql: HqlSettings = Field(default_factory=HqlSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    stream: StreamingSettings = Field(default_factory=StreamingSettings)
    ml: MlSettings = Field(default_factory=MlSettings)

    def mysql_password_path(self) -> Path | None:
        """Where ``mysql.password_file`` points: ``~`` expanded, a relative path under the stack home."""
        file = self.mysql.password_file
        if file is None:
            return None
        file = file.expanduser()
        return file if file.is_absolute() else self.stack.home / file

    @model_validator(mode="after")
    def _mysql_password(self) -> Settings:
        path = self.mysql_password_path()
        parts = urlsplit(self.mysql.dsn)
        if path is None or self.mysql.password_secret or parts.password is not None or not parts.username:
            return self
        dsn = with_credentials(self.mysql.dsn, local_password(path))
        self.mysql = self.mysql.model_copy(update={"dsn": dsn})
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments > environment > what a deploy recorded > the profile file.
        return (
            init_settings,
            env_settings,
            DeployedOverlay(settings_cls),
            TomlConfigSettingsSource(settings_cls, toml_file=profile_file()),
        )


def local_password(path: Path) -> str:
    """The password kept in ``path`` (mode 0600), made with a random value when the file is missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def profile_file() -> Path:
    """The TOML file of the active profile (BDML_PROFILE_FILE overrides BDML_PROFILE)."""
    return Path(os.environ.get("BDML_PROFILE_FILE") or PROFILE_FILES[_active_profile()])


def deployed_overlay_file(profile: str) -> Path:
    """Settings that ``bdml deploy`` recorded from its stacks' outputs for this profile (stream names,
    roles, endpoints), so the pipelines find what was deployed without names typed by hand."""
    return Path(os.environ.get("BDML_DEPLOYED_FILE") or REPO_ROOT / ".bdml" / "deployed" / f"{profile}.json")


class DeployedOverlay(PydanticBaseSettingsSource):
    """The deployed settings of the active profile, when recorded."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        path = deployed_overlay_file(_active_profile().value)
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        return {k: v for k, v in data.items() if k != "outputs"}


def _active_profile() -> Profile:
    raw = os.environ.get("BDML_PROFILE", Profile.EMBEDDED.value)
    try:
        return Profile(raw)
    except ValueError:
        choices = ", ".join(p.value for p in Profile)
        raise SystemExit(f"BDML_PROFILE={raw!r} is not a profile; choose one of: {choices}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_with(**overrides: Any) -> Settings:
    """A copy of the active settings with top-level sections replaced (used by the CLI and tests)."""
    return get_settings().model_copy(update=overrides)
