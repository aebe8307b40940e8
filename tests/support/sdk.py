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


def sdk_env(creds: dict[str, str], workdir: Path) -> dict[str, str]:
    """The environment of a ClearML client process run as ``creds`` (CLEARML_* of a user), at home in ``workdir``
    with its own ``clearml.conf``; nothing of this process's own CLEARML_*/CLEARWAY_* settings leaks in."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "clearml.conf"
    conf.write_text(CLEARML_CONF)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "CLEARWAY_", "TRAINS_"))},
        **creds,
        "CLEARML_CONFIG_FILE": str(conf),
        "HOME": str(workdir),
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",
    }


def run_sdk(
    code: str, creds: dict[str, str], workdir: Path, *args: str, timeout: float = 180, name: str = "script.py"
) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / name
    script.write_text(textwrap.dedent(code))
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=workdir,
        env=sdk_env(creds, workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
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
