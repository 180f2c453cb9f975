"""`bp-helper status --all` (commands/overview.py)."""

from __future__ import annotations

import json

from bp_helper.testing import Sandbox

from .support import Home, sign_in


def test_status_all_lists_every_profile_with_hosts_and_login(sandbox: Sandbox, home: Home) -> None:
    home.write_config(
        '[profiles.default]\n[profiles.staging]\nhosts = ["staging.example.org"]\n'
        '[profiles.broken]\ntimeout = "soon"\n'
    )
    sign_in(home)
    done = home.bp("status", "--all", "--json")
    assert done.returncode == 0, done.stderr
    entries = {e["profile"]: e for e in json.loads(done.stdout)["profiles"]}
    assert list(entries) == ["default", "broken", "staging"]
    default = entries["default"]
    assert default["hosts"] == [sandbox.netloc]
    assert default["logged_in"] is True and default["username"] == "alice"
    assert isinstance(default["expires_at"], float) and default["fresh"] is True
    assert entries["staging"]["hosts"] == ["staging.example.org"]
    assert entries["staging"]["logged_in"] is False
    assert "timeout" in entries["broken"]["problem"]
    text = home.bp("status", "--all").stdout
    assert f"* default      {sandbox.netloc}" in text
    assert "staging.example.org" in text and "not logged in" in text
