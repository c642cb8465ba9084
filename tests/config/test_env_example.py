""".env.example documents every variable once, and the defaults it shows are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from bridge_v3.config.loader import load_settings
from bridge_v3.config.settings import Settings
from bridge_v3.config.variables import VARIABLES

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def assignments() -> list[tuple[str, str]]:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [match.groups() for line in lines if (match := ASSIGNMENT.match(line))]


def test_every_variable_is_documented_exactly_once():
    names = [name for name, _ in assignments()]

    assert sorted(names) == sorted(var.name for var in VARIABLES)


def test_the_file_is_ascii_for_any_windows_editor():
    EXAMPLE.read_bytes().decode("ascii")


def test_shown_defaults_are_the_real_defaults(tmp_path):
    # Uncomment every "# NAME=default" line: the result must change nothing.
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(f"{name}={value}" for name, value in assignments()))

    assert load_settings({}, env_file=env_file) == Settings()


def test_the_file_loads_as_it_is():
    assert load_settings({}, env_file=EXAMPLE) == Settings()
