"""EMR steps that run our HQL files with Hive, unchanged: each file becomes one ``command-runner.jar`` step
(``hive-script --run-hive-script --args -f s3://…/<file>.hql -d name=value …``) submitted to an existing
cluster. The HQL folder is uploaded to ``s3://<artifacts bucket>/hql/`` first (``bdml deploy aws apply``
does it too), because EMR reads scripts from S3, not from this machine.

    python -m deploy.aws.emr --cluster-id j-XXXXXXXX                 # every hive/hql/*.hql, in name order
    python -m deploy.aws.emr --cluster-id j-XXXXXXXX --dry-run       # print the steps, submit nothing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hive.tables import HQL_DIR, HQL_FILES, hql_variables
from services.aws import client
from services.settings import Settings, get_settings

from . import bucket_names
from .stacks import artifacts_bucket

HQL_PREFIX = "hql/"
STEP_NAME_PREFIX = "bdml-hql-"
# Later files read what earlier ones wrote (raw -> processed -> yearly -> parquet): after a failure the
# rest is cancelled, and the cluster waits so its logs can be read.
ACTION_ON_FAILURE = "CANCEL_AND_WAIT"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HIVEVAR = re.compile(r"\$\{hivevar:([A-Za-z_][A-Za-z0-9_]*)\}")


def hql_root(settings: Settings) -> str:
    """The S3 folder the cluster reads the HQL files from."""
    bucket_names(settings)  # refuses the profile's placeholders before anything runs
    return f"s3://{artifacts_bucket(settings)}/{HQL_PREFIX}"


def hql_uri(settings: Settings, hql_file: Path) -> str:
    return f"{hql_root(settings)}{hql_file.name}"


def default_variables(settings: Settings) -> dict[str, str]:
    """The HQL variables for the configured buckets, as the batch job uses them (hive.tables); callers
    may override either."""
    bucket_names(settings)  # refuses the profile's CHANGE-ME placeholders before anything runs
    return hql_variables(settings)


def emr_steps(settings: Settings, hql_files: list[Path], variables: dict[str, str]) -> list[dict[str, Any]]:
    """One EMR step per HQL file, in the order given.

    Refuses a file that uses a ``${hivevar:…}`` missing from ``variables``: Hive would leave the text
    unsubstituted and fail late on the cluster, or write to a literal path."""
    if not hql_files:
        raise ValueError("no HQL files given")
    for name, value in variables.items():
        if not _NAME.match(name):
            raise ValueError(f"HQL variable name {name!r} is not an identifier")
        # Values travel through EMR's hive-script wrapper, where whitespace risks splitting one argument.
        if not value or any(ch.isspace() for ch in value):
            raise ValueError(f"HQL variable {name}={value!r} must be non-empty without whitespace")
    defines: list[str] = []
    for name in sorted(variables):
        defines += ["-d", f"{name}={variables[name]}"]

    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in hql_files:
        if path.suffix != ".hql":
            raise ValueError(f"{path} is not an .hql file")
        if path.name in seen:
            raise ValueError(f"two HQL files named {path.name}: they would overwrite each other in S3")
        seen.add(path.name)
        missing = sorted(set(_HIVEVAR.findall(path.read_text())) - set(variables))
        if missing:
            raise ValueError(f"{path.name} uses ${{hivevar:…}} not given: {', '.join(missing)}")
        steps.append(
            {
                "Name": f"{STEP_NAME_PREFIX}{path.stem}",
                "ActionOnFailure": ACTION_ON_FAILURE,
                "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": [
                        "hive-script",
                        "--run-hive-script",
                        "--args",
                        "-f",
                        hql_uri(settings, path),
                        *defines,
                    ],
                },
            }
        )
    return steps


def upload_hql(settings: Settings, hql_dir: Path = HQL_DIR) -> list[str]:
    """Upload every ``*.hql`` of ``hql_dir`` under ``s3://<artifacts bucket>/hql/``; their S3 URIs."""
    bucket = artifacts_bucket(settings)
    files = sorted(hql_dir.glob("*.hql"))
    if not files:
        raise FileNotFoundError(f"no .hql files in {hql_dir}")
    s3 = client("s3", settings)
    uris: list[str] = []
    for path in files:
        s3.upload_file(str(path), bucket, f"{HQL_PREFIX}{path.name}", ExtraArgs={"ContentType": "text/plain"})
        uris.append(hql_uri(settings, path))
    return uris


def _script_uri(step: dict[str, Any]) -> str | None:
    args: list[str] = step.get("HadoopJarStep", {}).get("Args", [])
    for i, arg in enumerate(args[:-1]):
        if arg == "-f":
            return args[i + 1]
    return None


def submit_steps(
    settings: Settings, cluster_id: str, steps: list[dict[str, Any]], hql_dir: Path = HQL_DIR
) -> list[str]:
    """Upload ``hql_dir`` to S3, then add ``steps`` to cluster ``cluster_id``; the new step ids."""
    if not steps:
        raise ValueError("no steps to submit")
    uploaded = set(upload_hql(settings, hql_dir))
    # A step whose script is not among the uploaded files would fail on the cluster minutes later.
    root = hql_root(settings)
    for step in steps:
        script = _script_uri(step)
        if script is not None and script.startswith(root) and script not in uploaded:
            raise ValueError(f"step {step.get('Name')!r} runs {script}, which is not in {hql_dir}")
    response = client("emr", settings).add_job_flow_steps(JobFlowId=cluster_id, Steps=steps)
    step_ids: list[str] = response["StepIds"]
    return step_ids


def _parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--var {pair!r}: expected NAME=VALUE")
        out[name] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.aws.emr", description="Run the HQL files as Hive steps on an EMR cluster."
    )
    parser.add_argument("--cluster-id", help="the EMR cluster (j-…) to add the steps to")
    parser.add_argument(
        "--hql", nargs="*", type=Path, help="HQL files in run order (default: hive/hql/*.hql)"
    )
    parser.add_argument("--var", action="append", default=[], help="NAME=VALUE, overrides a default variable")
    parser.add_argument("--dry-run", action="store_true", help="print the steps as JSON and submit nothing")
    args = parser.parse_args(argv)

    settings = get_settings()
    hql_files: list[Path] = args.hql or list(HQL_FILES)
    variables = {**default_variables(settings), **_parse_vars(args.var)}
    steps = emr_steps(settings, hql_files, variables)
    if args.dry_run:
        print(json.dumps(steps, indent=2))
        return 0
    if not args.cluster_id:
        parser.error("--cluster-id is required unless --dry-run")
    hql_dir = hql_files[0].parent if args.hql else HQL_DIR
    for step_id, step in zip(submit_steps(settings, args.cluster_id, steps, hql_dir), steps, strict=True):
        print(f"submitted {step_id} {step['Name']} to {args.cluster_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
