"""Profiles choose endpoints and adapters; the environment overrides the profile file."""

from __future__ import annotations

import pytest

from services.settings import Profile, Settings

pytestmark = pytest.mark.unit


def test_embedded_profile_points_at_the_local_emulator_and_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BDML_PROFILE", raising=False)
    s = Settings()
    assert s.profile is Profile.EMBEDDED
    assert s.aws.endpoint_url == "http://127.0.0.1:4566"
    assert s.hql.engine == "duckdb" and s.redshift.loader == "copy_stdin"
    assert s.stream.delivery == "local"


def test_aws_profile_uses_real_services_and_no_stored_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDML_PROFILE", "aws")
    s = Settings()
    assert s.aws.endpoint_url is None and s.aws.access_key_id is None
    assert s.redshift.loader == "copy_s3" and s.hql.engine == "hiveserver2"
    assert s.stream.delivery == "firehose"


def test_environment_overrides_the_profile_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDML_PROFILE", "aws")
    monkeypatch.setenv("BDML_HQL__ENGINE", "spark")
    monkeypatch.setenv("BDML_STREAM__DELIVERY", "local")
    monkeypatch.setenv("BDML_S3__RAW_BUCKET", "my-raw")
    s = Settings()
    assert s.hql.engine == "spark" and s.s3.raw_bucket == "my-raw"
    assert s.s3.max_concurrency == 10  # the rest of the [s3] table still comes from the profile
    assert s.stream.delivery == "local"


def test_unknown_profile_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDML_PROFILE", "staging")
    with pytest.raises(SystemExit, match="embedded, compose, aws"):
        Settings()
