"""Runs a script with the real ``clearml`` SDK in a subprocess, as a data scientist would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# report_use_subprocess: false avoids the SDK's fork deadlock (wire contract, section 9.1).
CLEARML_CONF = """
sdk { development { report_use_subprocess: false, worker { report_period_sec: 1 } } }
"""


def run_sdk(
    code: str, creds: dict[str, str], workdir: Path, *args: str, timeout: float = 180, name: str = "script.py"
) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / name
    script.write_text(textwrap.dedent(code))
    conf = workdir / "clearml.conf"
    conf.write_text(CLEARML_CONF)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "CLEARWAY_", "TRAINS_"))},
        **creds,
        "CLEARML_CONFIG_FILE": str(conf),
        "HOME": str(workdir),
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",
    }
    result = subprocess.run(
        [sys.executable, str(script), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"SDK script failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def last_line_value(output: str, prefix: str) -> str:
    for line in reversed(output.splitlines()):
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise AssertionError(f"no line starting with {prefix!r} in:\n{output[-3000:]}")
