"""The deployment files, checked as far as this machine can without containers or a cluster: compose.yaml against
the Compose Specification's JSON schema (``tests/support/compose_spec.json``, Apache-2.0, as shipped with
docker-compose), and ``docker-compose config`` when installed; the Helm chart's values against its
``values.schema.json``, and every value its templates use declared in ``values.yaml``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHART = DEPLOY / "helm" / "clearway"
SPEC = Path(__file__).resolve().parents[1] / "support" / "compose_spec.json"


def test_compose_file_follows_the_compose_specification() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    jsonschema.Draft7Validator(json.loads(SPEC.read_text())).validate(compose)
    services = compose["services"]
    assert {"postgres", "minio", "clearway-a", "clearway-b", "proxy", "agent"} <= set(services)
    a, b = services["clearway-a"]["environment"], services["clearway-b"]["environment"]
    assert a == b and a["CLEARWAY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert a["CLEARWAY_BLOB_URL"].startswith("s3://")
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server clearway-a:8008" in nginx and "server clearway-b:8008" in nginx


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
def test_docker_compose_accepts_the_file() -> None:
    env = {**os.environ, "CLEARWAY_TOKEN_SECRET": "x"}
    done = subprocess.run(["docker-compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"], env=env)
    assert done.returncode == 0


def test_dockerfile_runs_as_a_user_with_a_healthcheck() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER \d+", dockerfile, re.M) and "HEALTHCHECK" in dockerfile and "/health" in dockerfile
    assert dockerfile.startswith("# ") and "-slim" in dockerfile


def test_helm_values_match_the_schema_and_the_templates() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate({**values, "databaseUrl": "postgresql+psycopg://db/clearway"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({**values, "replicaCount": 0})
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "clearway"
    templates = {path.name: path.read_text() for path in (CHART / "templates").iterdir()}
    for name, text in templates.items():
        for path in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text):
            node = values
            for part in path.split("."):
                assert isinstance(node, dict) and part in node, f"{name} uses .Values.{path}, not in values.yaml"
                node = node[part]
    kinds = {m for text in templates.values() for m in re.findall(r"^kind: (\w+)", text, re.M)}
    assert kinds == {"Deployment", "Service", "Ingress", "Secret"}
    deployment = templates["deployment.yaml"]
    assert deployment.count("path: /health") == 2 and "CLEARWAY_TOKEN_SECRET" in deployment
