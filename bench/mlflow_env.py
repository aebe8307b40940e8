"""MLflow in its own virtual environment (``bench/.mlflow-venv``), installed from PyPI on first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MLFLOW_VERSION = "3.17.2"
VENV = Path(__file__).resolve().parent / ".mlflow-venv"
MLFLOW = VENV / "bin" / "mlflow"


def installed() -> bool:
    return MLFLOW.exists()


def ensure_installed() -> Path:
    """The path of the ``mlflow`` command, installing it the first time (a few minutes, once)."""
    if installed():
        return MLFLOW
    print(f"Installing mlflow=={MLFLOW_VERSION} into {VENV} (first use only)...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    done = subprocess.run([*pip, f"mlflow=={MLFLOW_VERSION}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip install mlflow=={MLFLOW_VERSION} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return MLFLOW
