"""``scripts/install.sh`` (run by ``scripts/run.sh`` and ``scripts/test.sh``): it says what it
does, and later starts do not run pip when nothing changed.

It runs in a copy of the project whose ``.venv/bin/python`` only records its calls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/../../python-calls.txt"
if [ "$1" = "--version" ]; then echo "Python 3.11.7"; fi
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    for script in ("install.sh", "install_browser.sh"):
        shutil.copy(REPO / "scripts" / script, tmp_path / "scripts" / script)
    chromium = tmp_path / "chromium"  # there already: the browser step has nothing to do
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    (tmp_path / "requirements.txt").write_text("numpy>=1.26\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest>=8.0\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def install(project: Path, requirements: str = "requirements.txt") -> tuple[str, list[str]]:
    calls = project / "python-calls.txt"
    calls.write_text("")
    result = subprocess.run(
        ["bash", "scripts/install.sh", requirements],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "DASHBOARD_TEST_CHROMIUM": str(project / "chromium")},
    )
    pip = [line for line in calls.read_text().splitlines() if line.startswith("-m pip install")]
    return result.stdout, pip


def test_the_first_install_says_what_it_does_and_a_second_one_skips_pip(project: Path) -> None:
    first, first_pip = install(project)
    again, again_pip = install(project)

    assert "Installing the Python packages of requirements.txt" in first
    assert "-m pip install --quiet --disable-pip-version-check -r requirements.txt" in first_pip
    assert again_pip == [] and "up to date" in again


def test_a_changed_requirement_file_installs_again(project: Path) -> None:
    install(project)
    install(project, "requirements-dev.txt")
    (project / "requirements.txt").write_text("numpy>=2.0\n")

    _, pip = install(project)
    _, dev_pip = install(project, "requirements-dev.txt")

    assert len(pip) == 2 and len(dev_pip) == 2  # pip itself, then the file


def test_the_development_install_checks_for_the_dashboard_tests_browser(project: Path) -> None:
    (project / "chromium").unlink()  # missing: the browser step must act
    tools = project / "bin"  # the shell's tools, but no apt-get to install it with
    tools.mkdir()
    for tool in ("bash", "cat", "cksum", "basename", "dirname", "id"):
        (tools / tool).symlink_to(shutil.which(tool))

    result = subprocess.run(
        [str(tools / "bash"), "scripts/install.sh", "requirements-dev.txt"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(tools), "DASHBOARD_TEST_CHROMIUM": str(project / "chromium")},
    )

    assert result.returncode != 0
    assert "needs Chromium at" in result.stderr
