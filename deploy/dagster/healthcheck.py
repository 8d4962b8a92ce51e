"""The image's health check: healthy as whatever the container's main process is (PID 1's
command line): the webserver when /server_info answers on its port, the daemon when
`dagster-daemon liveness-check` finds recent heartbeats, anything else (a run's
`dagster api execute_run`) while it is alive, which it is if this check runs at all."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

WEBSERVER_PORT = 3000  # deploy/dagster/Dockerfile's CMD and terraform/ecs.tf's


def main_command() -> list[str]:
    return Path("/proc/1/cmdline").read_bytes().decode().split("\0")


def port_of(command: list[str]) -> int:
    for flag in ("-p", "--port"):
        if flag in command[:-1]:
            return int(command[command.index(flag) + 1])
    return WEBSERVER_PORT


def healthy(command: list[str]) -> bool:
    names = {Path(part).name for part in command}
    if "dagster-webserver" in names:
        url = f"http://127.0.0.1:{port_of(command)}/server_info"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200
        except OSError:
            return False
    if "dagster-daemon" in names:
        return subprocess.run(["dagster-daemon", "liveness-check"]).returncode == 0
    return True


if __name__ == "__main__":
    sys.exit(0 if healthy(main_command()) else 1)
