"""Every `CITYWATCH_*` environment name has one home, citywatch/settings.py: code elsewhere names a variable through
`env_name(setting)`, which refuses a setting that does not exist."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from citywatch.settings import SETTINGS, WorkerSettings, env_name
from tools.devstack.config import REPO_ROOT

WHOLE_NAME = re.compile(r"CITYWATCH_[A-Z0-9_]+")
SETTINGS_FILE = REPO_ROOT / "citywatch" / "settings.py"


def modules() -> Iterator[Path]:
    for package in ("citywatch", "services", "streams", "tools"):
        yield from (REPO_ROOT / package).rglob("*.py")


def test_env_name_is_read_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_name("worker_batch_size") == "CITYWATCH_WORKER_BATCH_SIZE"
    monkeypatch.setenv(env_name("worker_batch_size"), "7")
    assert WorkerSettings().worker_batch_size == 7


def test_env_name_refuses_a_setting_that_does_not_exist() -> None:
    with pytest.raises(KeyError, match="no citywatch setting 'worker_bach_size'"):
        env_name("worker_bach_size")


def test_no_module_but_the_settings_writes_an_environment_name_as_a_value() -> None:
    """A string that is exactly `CITYWATCH_…` is code naming a variable (prose in messages and docstrings may
    mention one)."""
    found = []
    for path in modules():
        if path == SETTINGS_FILE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and WHOLE_NAME.fullmatch(node.value):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.value}")
    assert found == []


def test_every_env_name_call_names_a_setting() -> None:
    """Calls inside functions run only when the function does: check their arguments here, all of them."""
    fields = {name for cls in SETTINGS for name in cls.model_fields}
    unknown, calls = [], 0
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "env_name":
                calls += 1
                (argument,) = node.args
                if not (isinstance(argument, ast.Constant) and argument.value in fields):
                    unknown.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {ast.unparse(argument)}")
    assert unknown == []
    assert calls > 50
