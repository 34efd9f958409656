"""Third-party environments register through the ``resd_bench.envs`` entry-point group."""

from __future__ import annotations

import sys
import textwrap

import envs
from envs import registry


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
