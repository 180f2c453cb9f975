"""`bp-helper setup git|docker|containers [--remove]`: idempotent, exact, and reversible."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bp_helper.testing import Sandbox

from .protocol_support import path_with_helpers
from .real_clients_support import program
from .support import BIN, Home, executable, one_line_error, run_together, sign_in

GITCONFIG = (
    '[user]\n\tname = Some One\n[credential]\n\thelper = cache\n[alias]\n\tst = "status -s"\n'
)
DOCKER_JSON = (
    '{\n\t"auths": {\n\t\t"ghcr.io": {}\n\t},\n\t"credHelpers": {\n\t\t"gcr.io": "gcloud"\n\t}\n}'
)


@pytest.fixture
def tooled(home: Home) -> Home:
    home.env.update(PATH=path_with_helpers(), GIT_CONFIG_NOSYSTEM="1")
    return home


def git_fill(home: Home, netloc: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "credential", "fill"],
        input=f"protocol=https\nhost={netloc}\n\n",
        capture_output=True,
        text=True,
        env={**home.env, "GIT_TERMINAL_PROMPT": "0"},
        timeout=60,
        check=False,
    )


def test_setup_git_twice_is_identical_and_remove_restores(sandbox: Sandbox, tooled: Home) -> None:
    gitconfig = tooled.root / ".gitconfig"
    gitconfig.write_text(GITCONFIG)
    first = tooled.bp("setup", "git")
    assert first.returncode == 0, first.stderr
    key = f"credential.https://{sandbox.netloc}.helper"
    assert f"git: set {key} = bioprodict" in first.stdout
    after = gitconfig.read_bytes()
    assert f'[credential "https://{sandbox.netloc}"]\n\thelper = \n\thelper = bioprodict\n' in (
        after.decode()
    )
    assert after.startswith(GITCONFIG.encode())  # everything else stays
    again = tooled.bp("setup", "git")
    assert again.returncode == 0 and "already set" in again.stdout
    assert gitconfig.read_bytes() == after
    # git itself now asks our helper (and not the `cache` helper of every host) for the host
    sign_in(tooled)
    filled = git_fill(tooled, sandbox.netloc)
    assert filled.returncode == 0, filled.stderr
    assert "password=" in filled.stdout and "username=alice" in filled.stdout
    removed = tooled.bp("setup", "git", "--remove")
    assert removed.returncode == 0, removed.stderr
    assert f"git: removed {key}" in removed.stdout
    assert gitconfig.read_text() == GITCONFIG


def test_setup_git_for_a_profile_and_without_the_helper_on_path(
    sandbox: Sandbox, home: Home
) -> None:
    home.env.update(GIT_CONFIG_NOSYSTEM="1", PATH="/usr/bin:/bin")  # helpers not on PATH
    home.write_config('[profiles.staging]\nclient_id = "bp-demo"\n')
    done = home.bp("--profile", "staging", "setup", "git")
    assert done.returncode == 0, done.stderr
    helper = f"{BIN / 'git-credential-bioprodict'} --profile staging"
    assert f"helper = {helper}\n" in (home.root / ".gitconfig").read_text()
    home.env["PATH"] = path_with_helpers()  # the helper is on PATH now: still recognised
    again = home.bp("--profile", "staging", "setup", "git")
    assert again.returncode == 0 and "already set" in again.stdout
    removed = home.bp("--profile", "staging", "setup", "git", "--remove")
    assert removed.returncode == 0, removed.stderr
    assert (home.root / ".gitconfig").read_text() == ""


def test_setup_docker_twice_is_identical_and_remove_restores(
    sandbox: Sandbox, tooled: Home
) -> None:
    folder = tooled.root / "dockercfg"
    folder.mkdir()
    config = folder / "config.json"
    config.write_text(DOCKER_JSON)
    config.chmod(0o640)
    tooled.env["DOCKER_CONFIG"] = str(folder)
    done = tooled.bp("setup", "docker")
    assert done.returncode == 0, done.stderr
    assert f"set credHelpers['{sandbox.netloc}'] = 'bioprodict'" in done.stdout
    data = json.loads(config.read_text())
    assert data["credHelpers"] == {"gcr.io": "gcloud", sandbox.netloc: "bioprodict"}
    assert data["auths"] == {"ghcr.io": {}}
    assert config.stat().st_mode & 0o777 == 0o640  # the file's mode is kept
    after = config.read_bytes()
    assert tooled.bp("setup", "docker").returncode == 0
    assert config.read_bytes() == after
    assert tooled.bp("setup", "docker", "--remove").returncode == 0
    assert config.read_text() == DOCKER_JSON


def test_setup_docker_creates_the_file_and_remove_takes_it_away(
    sandbox: Sandbox, tooled: Home
) -> None:
    config = tooled.root / ".docker" / "config.json"
    assert tooled.bp("setup", "docker").returncode == 0
    assert json.loads(config.read_text()) == {"credHelpers": {sandbox.netloc: "bioprodict"}}
    assert config.stat().st_mode & 0o777 == 0o600
    assert tooled.bp("setup", "docker", "--remove").returncode == 0
    assert not config.exists()


@pytest.mark.parametrize(
    "text",
    ['{"credHelpers": {"a": "b"}', "[]", '{"credHelpers": []}', "\xff"],
    ids=["truncated", "not-an-object", "credhelpers-not-an-object", "not-utf8"],
)
def test_a_malformed_file_is_refused_and_left_alone(tooled: Home, text: str) -> None:
    config = tooled.root / ".docker" / "config.json"
    config.parent.mkdir()
    config.write_bytes(text.encode("latin-1"))
    done = tooled.bp("setup", "docker")
    assert done.returncode == 2
    assert str(config) in one_line_error(done)
    assert config.read_bytes() == text.encode("latin-1")


def test_another_helper_for_the_host_is_not_overwritten(sandbox: Sandbox, tooled: Home) -> None:
    config = tooled.root / ".docker" / "config.json"
    config.parent.mkdir()
    text = json.dumps({"credHelpers": {sandbox.netloc: "desktop"}})
    config.write_text(text)
    done = tooled.bp("setup", "docker")
    assert done.returncode == 2
    assert "'desktop'" in one_line_error(done)
    assert config.read_text() == text


def test_setup_containers_uses_registry_auth_file_then_xdg_runtime_dir(
    sandbox: Sandbox, tooled: Home
) -> None:
    auth = tooled.root / "auth.json"
    done = tooled.bp("setup", "containers", env={"REGISTRY_AUTH_FILE": str(auth)})
    assert done.returncode == 0, done.stderr
    assert json.loads(auth.read_text()) == {"credHelpers": {sandbox.netloc: "bioprodict"}}
    runtime = tooled.root / "run"
    done = tooled.bp("setup", "containers", env={"XDG_RUNTIME_DIR": str(runtime)})
    assert done.returncode == 0, done.stderr
    assert (runtime / "containers" / "auth.json").exists()
    if os.geteuid() != 0:  # root has a file of its own: see the next test
        nowhere = tooled.bp("setup", "containers")
        assert nowhere.returncode == 2
        assert "REGISTRY_AUTH_FILE" in one_line_error(nowhere)


@pytest.mark.real_clients
def test_skopeo_reads_the_token_through_the_configured_helper(
    sandbox: Sandbox, tooled: Home
) -> None:
    skopeo = program("skopeo", "containers' auth.json is read by skopeo")
    auth = tooled.root / "auth.json"
    sign_in(tooled)
    done = tooled.bp("setup", "containers", env={"REGISTRY_AUTH_FILE": str(auth)})
    assert done.returncode == 0, done.stderr
    got = subprocess.run(
        [skopeo, "login", "--get-login", "--authfile", str(auth), sandbox.netloc],
        capture_output=True,
        text=True,
        env={**tooled.env, "REGISTRY_AUTH_FILE": str(auth)},
        timeout=60,
        check=False,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "alice"


# -- without the sandbox: hosts from the config ----------------------------------------------

TWO_PROFILES = (
    '[profiles.default]\nhosts = ["a.example.org"]\n'
    '[profiles.staging]\nhosts = ["b.example.org", "c.example.org"]\n'
)


@pytest.fixture
def offline(tmp_path: Path) -> Home:
    """A home with two profiles bound to made-up hosts (setup never contacts them)."""
    home = Home.make(
        tmp_path / "offline", {"PATH": path_with_helpers(), "GIT_CONFIG_NOSYSTEM": "1"}
    )
    home.write_config(TWO_PROFILES)
    return home


def test_remove_all_takes_out_every_profiles_entries(offline: Home) -> None:
    gitconfig = offline.root / ".gitconfig"
    gitconfig.write_text(GITCONFIG)
    docker = offline.root / ".docker" / "config.json"
    docker.parent.mkdir()
    docker.write_text(DOCKER_JSON)
    auth = offline.root / "auth.json"
    offline.env["REGISTRY_AUTH_FILE"] = str(auth)
    for profile in ("default", "staging"):
        for tool in ("git", "docker", "containers"):
            done = offline.bp("--profile", profile, "setup", tool)
            assert done.returncode == 0, done.stderr
    offline.write_config("")  # the profiles are gone from the config: their entries are not
    assert "b.example.org" in gitconfig.read_text()
    for tool in ("git", "docker", "containers"):
        done = offline.bp("setup", tool, "--remove", "--all")
        assert done.returncode == 0, done.stderr
    assert gitconfig.read_text() == GITCONFIG
    assert docker.read_text() == DOCKER_JSON
    assert not auth.exists()
    alone = offline.bp("setup", "git", "--all")
    assert alone.returncode == 2 and "--remove" in one_line_error(alone)


def test_setup_git_replaces_a_stale_helper_line_it_wrote(offline: Home) -> None:
    gitconfig = offline.root / ".gitconfig"
    stale = '[credential "https://a.example.org"]\n\thelper = \n\thelper = bioprodict\n'
    gitconfig.write_text(GITCONFIG + stale)
    offline.env["PATH"] = "/usr/bin:/bin"  # the helper is no longer on PATH: the bare name fails
    done = offline.bp("setup", "git")
    assert done.returncode == 0, done.stderr
    assert "replaced" in done.stdout
    helper = BIN / "git-credential-bioprodict"
    assert gitconfig.read_text() == GITCONFIG + stale.replace("bioprodict", str(helper))


def test_setup_git_remove_touches_only_our_lines(offline: Home) -> None:
    gitconfig = offline.root / ".gitconfig"
    mine = (
        '[credential "https://a.example.org"]\n'
        "\t# the team's helper first\n"
        "\thelper = mytool --fast  # keep me\n"
        "\thelper = bioprodict\n"
        "\thelper = othertool\n"
    )
    gitconfig.write_text(GITCONFIG + mine)
    done = offline.bp("setup", "git", "--remove")
    assert done.returncode == 0, done.stderr
    assert gitconfig.read_text() == GITCONFIG + mine.replace("\thelper = bioprodict\n", "")


GIT_THAT_LOCKS = """#!/bin/sh
# git, and right after the first `git config ... --unset-all`, another git takes the lock
/usr/bin/git "$@"
status=$?
case " $* " in *" --unset-all "*)
    if [ ! -e "$HOME/took" ] && [ ! -e "$HOME/.gitconfig.lock" ]; then
        : > "$HOME/took"; : > "$HOME/.gitconfig.lock"
    fi ;;
esac
exit $status
"""


def test_setup_git_remove_keeps_the_file_when_another_git_takes_the_lock(offline: Home) -> None:
    gitconfig = offline.root / ".gitconfig"
    mine = (
        '[credential "https://a.example.org"]\n'
        "\thelper = mytool\n\thelper = bioprodict\n\thelper = othertool\n"
    )
    gitconfig.write_text(GITCONFIG + mine)
    wrapper = offline.root / "bin"
    wrapper.mkdir()
    (wrapper / "git").write_text(GIT_THAT_LOCKS)
    (wrapper / "git").chmod(0o755)
    offline.env["PATH"] = f"{wrapper}:{path_with_helpers()}"
    done = offline.bp("setup", "git", "--remove")
    # setup held git's lock from its first step to its last, so the other git never got in
    assert gitconfig.read_text() == GITCONFIG + mine.replace("\thelper = bioprodict\n", "")
    assert done.returncode == 0, done.stderr
    assert not (offline.root / "took").exists() and not (offline.root / ".gitconfig.lock").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="podman's rule for root")
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare for a private /run")
def test_setup_containers_as_root_uses_run_containers(offline: Home) -> None:
    """As podman does for root without XDG_RUNTIME_DIR: /run/containers/0/auth.json (a
    private /run in a mount namespace, so the machine's own file is never touched)."""
    script = 'mount -t tmpfs tmpfs /run && "$0" setup containers && cat /run/containers/0/auth.json'
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, executable("bp-helper")],
        capture_output=True,
        text=True,
        env=offline.env,
        timeout=60,
        check=False,
    )
    if "Operation not permitted" in done.stderr and "mount" in done.stderr:
        pytest.skip("no mount namespace here")
    assert done.returncode == 0, done.stderr
    assert "/run/containers/0/auth.json" in done.stdout
    assert json.loads(done.stdout.split("\n", 1)[1]) == {
        "credHelpers": {"a.example.org": "bioprodict"}
    }


@pytest.mark.slow
def test_parallel_setup_docker_loses_no_entry(offline: Home) -> None:
    offline.write_config(
        "".join(f'[profiles.p{i}]\nhosts = ["h{i}.example.org"]\n' for i in range(6))
    )
    run_together(offline, [["--profile", f"p{i}", "setup", "docker"] for i in range(6)])
    data = json.loads((offline.root / ".docker" / "config.json").read_text())
    assert data == {"credHelpers": {f"h{i}.example.org": "bioprodict" for i in range(6)}}


@pytest.mark.slow
def test_parallel_setup_git_loses_no_line_and_a_held_lock_leaves_the_file(offline: Home) -> None:
    offline.write_config(
        "".join(f'[profiles.p{i}]\nhosts = ["h{i}.example.org"]\n' for i in range(4))
    )
    gitconfig = offline.root / ".gitconfig"
    gitconfig.write_text(GITCONFIG)
    run_together(offline, [["--profile", f"p{i}", "setup", "git"] for i in range(4)])
    text = gitconfig.read_text()
    for i in range(4):
        assert f"helper = bioprodict --profile p{i}\n" in text
    lock = offline.root / ".gitconfig.lock"
    lock.write_text("another git at work\n")
    held = offline.bp("setup", "git", "--remove", "--all")
    assert held.returncode == 1
    assert f"{lock} exists" in one_line_error(held)
    assert gitconfig.read_text() == text and lock.read_text() == "another git at work\n"


def test_a_symlinked_gitconfig_is_edited_through_the_link(offline: Home) -> None:
    """As git itself does: the lock and the new file are made beside the link's target."""
    real = offline.root / "dotfiles" / "gitconfig"
    real.parent.mkdir()
    real.write_text(GITCONFIG)
    (offline.root / ".gitconfig").symlink_to(real)
    done = offline.bp("setup", "git")
    assert done.returncode == 0, done.stderr
    assert (offline.root / ".gitconfig").is_symlink()
    assert "helper = bioprodict" in real.read_text()
    assert offline.bp("setup", "git", "--remove").returncode == 0
    assert real.read_text() == GITCONFIG and sorted(os.listdir(real.parent)) == ["gitconfig"]


@pytest.mark.parametrize("tool", ["docker", "containers"])
def test_a_symlinked_json_file_is_edited_through_the_link(offline: Home, tool: str) -> None:
    dotfiles = offline.root / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "auth.json"
    real.write_text(DOCKER_JSON)
    link = offline.root / "links" / "config.json"
    link.parent.mkdir()
    link.symlink_to(real)
    if tool == "docker":
        offline.env["DOCKER_CONFIG"] = str(link.parent)
    else:
        offline.env["REGISTRY_AUTH_FILE"] = str(link)
    done = offline.bp("setup", tool)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.resolve() == real
    assert json.loads(real.read_text())["credHelpers"]["a.example.org"] == "bioprodict"
    assert sorted(p.name for p in link.parent.iterdir()) == ["config.json"]
    removed = offline.bp("setup", tool, "--remove")
    assert removed.returncode == 0, removed.stderr
    assert link.is_symlink() and real.read_text() == DOCKER_JSON
