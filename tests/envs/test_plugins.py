"""Third-party environments register through the ``resd_bench.envs`` entry-point group."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import envs
from envs import registry

ROOT = Path(__file__).resolve().parents[2]


def test_entry_point_registration(tmp_path, monkeypatch):
    package = tmp_path / "toy_envs_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent('''
        from envs.base import Outcome, TextEnv

        class SayHello(TextEnv):
            """Say hello."""
            max_turns = 2

            def _new_task(self):
                return int(self.np_random.integers(10))

            def _intro(self):
                return "Say [hello]."

            def _play(self, action):
                ok = "[hello]" in action
                return Outcome("yes" if ok else "no", ok, success=ok, progress=float(ok))
    ''')
    )
    dist = tmp_path / "toy_envs_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-envs-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{envs.ENTRY_POINT_GROUP}]\nsay-hello = toy_envs_pkg:SayHello\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    try:
        assert "say-hello" in envs.list()
        env = envs.make("say-hello")
        env.reset(seed=0)
        *_, info = env.step("well [hello]")
        assert info["success"] is True
    finally:
        sys.modules.pop("toy_envs_pkg", None)


BROKEN_PLUGINS = {
    "broken-import": ("broken_import_pkg:Env", "import no_such_module_anywhere\n"),
    "broken-attribute": ("broken_attr_pkg:Missing", "X = 1\n"),
    "broken-object": ("broken_object_pkg:VALUE", "VALUE = 42\n"),
    "broken-exit": ("broken_exit_pkg:Env", "import sys\nsys.exit('plugin gave up')\n"),
    "broken-register": (
        "broken_register_pkg:setup",
        "import envs\nfrom envs.secret import SecretWord\n\n"
        "def setup():\n"
        "    envs.register('half-registered', SecretWord, max_new_tokens=8)\n"
        "    raise RuntimeError('registration failed\\nhalf way')\n",
    ),
}


def install_plugins(tmp_path, monkeypatch, plugins: dict[str, tuple[str, str]]) -> None:
    """A distribution on sys.path whose entry points are ``plugins`` (name -> (value, module
    source of the value's module)); the registry starts over so it loads them."""
    lines = []
    for name, (value, source) in plugins.items():
        module = value.split(":")[0]
        (tmp_path / f"{module}.py").write_text(source)
        lines.append(f"{name} = {value}")
        monkeypatch.delitem(sys.modules, module, raising=False)
    dist = tmp_path / "broken_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{envs.ENTRY_POINT_GROUP}]\n" + "\n".join(lines))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_broken_plugins_are_named_in_one_line_each_and_skipped(tmp_path, monkeypatch):
    install_plugins(tmp_path, monkeypatch, BROKEN_PLUGINS)
    with pytest.warns(registry.BrokenPlugin) as caught:
        names = envs.list()
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == len(BROKEN_PLUGINS)
    for message, name in zip(messages, sorted(BROKEN_PLUGINS), strict=True):
        assert message.startswith(f"environment plugin {name!r} (") and "\n" not in message
    assert any(
        "ModuleNotFoundError: No module named 'no_such_module_anywhere'" in m for m in messages
    )
    assert any("SystemExit: plugin gave up" in m for m in messages)
    assert any("RuntimeError: registration failed half way" in m for m in messages)
    assert {"wordle", "mastermind", "tape", "secret"} <= set(names)
    assert not set(names) & {*BROKEN_PLUGINS, "half-registered"}  # the half taken back
    env = envs.make("wordle")
    env.reset(seed=0)
    env.step("[crane]")
    assert envs.list() == names  # loaded once: no second round of warnings


def test_the_runner_works_beside_a_broken_plugin(tmp_path, monkeypatch):
    """The command line as a user meets it: one warning line naming the plugin, then the
    runner's own answer (here: a one-line refusal of a misspelt env, with nothing on disk)."""
    install_plugins(tmp_path, monkeypatch, {"broken-import": BROKEN_PLUGINS["broken-import"]})
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--env", "wordl", "--out", str(tmp_path / "x")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = out.stderr.splitlines()
    assert out.returncode == 1 and len(lines) == 2, out.stderr
    assert lines[0].startswith(
        "warning: environment plugin 'broken-import' (broken_import_pkg:Env) failed to load "
        "and is skipped: ModuleNotFoundError"
    )
    assert lines[1].startswith("error: unknown environment 'wordl' (did you mean 'wordle'?)")
    assert not (tmp_path / "x").exists()
