"""Processes the dashboard's tests start and stop: a Redis of their own, the dashboard itself,
and headless Chromium. Each waits for an effect (a port that answers), never a fixed time."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.simulator.test_server import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "dashboard"  # screenshots, kept by CI (ignored by git)
CHROMIUM = os.environ.get("DASHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_SECONDS = 30.0


def wait_for_port(port: int, process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    pytest.fail(f"{what} not listening on {port} after {STARTUP_SECONDS} s")


class RedisServer:
    """A redis-server of the test's own on a free port, keeping nothing on disk: stopping it
    is a real outage (and a restart an empty Redis) that no other test run sees."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is required for the dashboard's outage test")
        self.binary, self.folder, self.port = binary, folder, free_port()
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = self.folder / f"redis-{self.port}.log"
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.folder), "--logfile", str(log)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, self.process, "redis-server", log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=STARTUP_SECONDS)


class DashboardProcess:
    """``python -m bridge_v3.dashboard`` with the settings in ``env``, on a free port."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.log = cwd / "dashboard.out"
        env = {**env, "DASHBOARD_PORT": str(self.port)}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge_v3.dashboard"],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=out,
            )
        wait_for_port(self.port, self.process, "the dashboard", self.log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url.rstrip("/") + path, timeout=10) as response:
            return response.read()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STARTUP_SECONDS)


def launch_chromium(playwright):
    """Debian's Chromium, headless, in a fresh profile (Playwright makes one per launch)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium is required at {CHROMIUM} for the dashboard's browser test: "
            "bash scripts/install_browser.sh (apt-get install chromium), or set DASHBOARD_TEST_CHROMIUM"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
