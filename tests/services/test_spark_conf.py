"""One Spark configuration for every local Spark-with-Hive process: the engine's session and the Thrift
Server run the same HQL, so they get the same heap and collector."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.hql.spark_engine import spark_conf
from services.hql.thrift_server import thrift_server_command
from services.settings import HqlSettings, Settings

pytestmark = pytest.mark.unit


def test_the_session_and_the_thrift_server_get_the_same_heap(base_settings: Settings, tmp_path: Path) -> None:
    hql = HqlSettings(**{**base_settings.hql.model_dump(), "spark_driver_memory": "3g"})
    settings = base_settings.model_copy(update={"hql": hql})
    conf = spark_conf(settings, tmp_path)
    assert conf["spark.driver.memory"] == "3g"
    assert "-XX:+UseParallelGC" in conf["spark.driver.extraJavaOptions"]
    command = thrift_server_command(settings, 10099, tmp_path)
    assert "spark.driver.memory=3g" in command


def test_both_commit_task_files_straight_into_the_job_output(base_settings: Settings, tmp_path: Path) -> None:
    """On S3 every commit-time move is a copy: the second one (v1's job commit) is skipped."""
    key = "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version"
    assert spark_conf(base_settings, tmp_path)[key] == "2"
    assert f"{key}=2" in thrift_server_command(base_settings, 10099, tmp_path)
