"""Fixtures for the streaming tests: every test gets its own application name (its own Kinesis stream,
delivery streams, transform function, checkpoint database) inside the session's test bucket, and the
resources it created on MiniStack are deleted afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from services import aws
from services.objectstore import ObjectStore
from services.settings import BufferingHints, Settings, StreamingSettings


def make_cfg(settings: Settings, state_dir: Path, **overrides: object) -> StreamingSettings:
    app = f"t{uuid.uuid4().hex[:10]}"
    values: dict[str, object] = {
        "app": app,
        "root_prefix": f"stream-{app}/",  # the session's bucket is shared: each test reads only its own
        "bucket": settings.s3.processed_bucket,
        "state_dir": state_dir,
        "shards": 2,
        "buffering": BufferingHints(size_mib=1, interval_s=1),
        "poll_interval_s": 0.2,
        "idle_watermark_s": 2.0,
    }
    values.update(overrides)
    return StreamingSettings(**values)  # type: ignore[arg-type]


def cleanup(settings: Settings, cfg: StreamingSettings) -> None:
    kinesis, lam = aws.client("kinesis", settings), aws.client("lambda", settings)
    with contextlib.suppress(ClientError):
        kinesis.delete_stream(StreamName=cfg.input_stream, EnforceConsumerDeletion=True)
    for function in (cfg.transform_function, cfg.analytics_function):
        with contextlib.suppress(ClientError):
            lam.delete_function(FunctionName=function)


@pytest.fixture
def stream_cfg(stack: Settings, store: ObjectStore, tmp_path: Path) -> Iterator[StreamingSettings]:
    cfg = make_cfg(stack, tmp_path / "state")
    yield cfg
    cleanup(stack, cfg)


def subprocess_env(settings: Settings, cfg: StreamingSettings) -> dict[str, str]:
    """The environment that makes a `bdml stream …` subprocess use this test's bucket and names."""
    return {
        **os.environ,
        "BDML_S3__PROCESSED_BUCKET": settings.s3.processed_bucket,
        "BDML_STREAM__APP": cfg.app,
        "BDML_STREAM__BUCKET": cfg.bucket_name(settings),
        "BDML_STREAM__STATE_DIR": str(cfg.state_dir),
        "BDML_STREAM__ROOT_PREFIX": cfg.root_prefix,
        "BDML_STREAM__SHARDS": str(cfg.shards),
        "BDML_STREAM__BUFFERING__SIZE_MIB": str(cfg.buffering.size_mib),
        "BDML_STREAM__BUFFERING__INTERVAL_S": str(cfg.buffering.interval_s),
        "BDML_STREAM__IDLE_WATERMARK_S": str(cfg.idle_watermark_s),
    }
