"""Shell completion (commands/completion.py), derived from the parser."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .support import Home, executable, sign_in


def test_bash_completion_completes_commands_options_and_profiles(
    sandbox: Sandbox, home: Home
) -> None:
    home.write_config("[profiles.staging]\n[profiles.prod]\n")
    script = home.bp("completion", "bash")
    assert script.returncode == 0, script.stderr

    def complete(*words: str) -> list[str]:
        probe = (
            f"{script.stdout}\nCOMP_WORDS=(bp-helper {' '.join(words)}); "
            f"COMP_CWORD={len(words)}; _bp_helper; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        )
        done = subprocess.run(
            ["bash", "--norc", "-c", probe],
            capture_output=True,
            text=True,
            env={**home.env, "PATH": f"{Path(executable('bp-helper')).parent}:/usr/bin:/bin"},
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert {"setup", "config", "completion", "token"} <= set(complete(""))
    assert complete("se") == ["setup"]
    setup = complete("setup", "")
    assert {"git", "docker", "containers", "--remove", "--profile", "--help"} <= set(setup)
    assert "--renew" not in setup
    assert complete("token", "--r") == ["--renew"]
    assert complete("--profile", "") == ["default", "prod", "staging"]
    assert "client_secret" in complete("config", "set", "")
    # switch completes the accounts logged in to the profile
    assert "--profile" in complete("switch", "")
    sign_in(home)
    assert "alice" in complete("switch", "")
    assert complete("switch", "al") == ["alice"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_the_commands(home: Home, shell: str) -> None:
    done = home.bp("completion", shell)
    assert done.returncode == 0, done.stderr
    assert "setup" in done.stdout and "--renew" in done.stdout.replace("-l renew", "--renew")
    assert "bp-helper completion --profiles" in done.stdout
    assert "bp-helper completion --accounts" in done.stdout
    assert f"bp-helper completion for {shell}" in done.stdout
