"""``bp-helper completion bash|zsh|fish``: a completion script derived from the parser.

Subcommands, their options and fixed arguments come from :func:`build_parser`, so a new
command or setting completes without an edit here; profile names come, when completing, from
``bp-helper completion --profiles`` (the config file's profiles), and the accounts ``switch``
takes from ``bp-helper completion --accounts``. Nothing of this is imported
by ``bp-helper token``.
"""

from __future__ import annotations

import argparse
import shlex

from bp_helper.commands.cli import build_parser
from bp_helper.commands.options import CONFIG_KEYS
from bp_helper.config.settings import Settings
from bp_helper.config.table import SETTINGS
from bp_helper.engine.store import TokenStore
from bp_helper.errors import BpError, UsageError


def cmd_completion(args: argparse.Namespace, settings: Settings) -> int:
    if args.profiles:
        try:
            names = ["default", *settings.profile_names()]
        except BpError:
            names = ["default"]
        print("\n".join(dict.fromkeys(names)))
        return 0
    if args.accounts:  # for `switch USER`: the accounts logged in to the profile
        store = TokenStore(settings.store_dir / "tokens", settings.profile)
        print("\n".join(token.account for token in store.accounts()))
        return 0
    if args.shell is None:
        raise UsageError("name the shell: `bp-helper completion bash|zsh|fish`")
    words = command_words()
    print({"bash": bash, "zsh": zsh, "fish": fish}[args.shell](words))
    return 0


def command_words() -> dict[str, list[str]]:
    """``""`` -> global options and command names; each command -> its options and choices."""
    parser = build_parser()
    words: dict[str, list[str]] = {"": _words(parser)}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words[""].append(name)
                words[name] = _words(sub)
    if "config" in words:
        words["config"] += list(CONFIG_KEYS)
    return words


def _words(parser: argparse.ArgumentParser) -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        found += [o for o in action.option_strings if o.startswith("--")]
        if not action.option_strings and action.choices:
            found += [str(c) for c in action.choices]
    return found


# Words a command's arguments take that only bp-helper can list, when completing.
ACCOUNTS = "bp-helper completion --accounts 2>/dev/null"
DYNAMIC = {"switch": f'" $({ACCOUNTS})"'}


def _valued() -> list[str]:
    return [s.flag for s in SETTINGS if s.flag and s.metavar] + ["--output", "--port"]


def bash(words: dict[str, list[str]]) -> str:
    cases = "\n".join(
        f"        {shlex.quote(name)}) "
        f"opts={shlex.quote(' '.join(items))}{DYNAMIC.get(name, '')} ;;"
        for name, items in words.items()
        if name
    )
    valued = "|".join(_valued())
    top = shlex.quote(" ".join(words[""]))
    return f"""# bp-helper completion for bash: eval "$(bp-helper completion bash)"
_bp_helper() {{
    local cur prev cmd="" opts i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    case "$prev" in
        --profile)
            COMPREPLY=($(compgen -W "$(bp-helper completion --profiles 2>/dev/null)" -- "$cur"))
            return ;;
        --config|--output)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        {valued})
            return ;;
    esac
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {valued}) ((i++)) ;;
            -*) ;;
            *) cmd="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$cmd" in
        "") opts={top} ;;
{cases}
        *) opts="" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _bp_helper bp-helper
"""


def zsh(words: dict[str, list[str]]) -> str:
    return (
        '# bp-helper completion for zsh: eval "$(bp-helper completion zsh)"\n'
        "autoload -U +X bashcompinit && bashcompinit\n" + bash(words).split("\n", 1)[1]
    )


def fish(words: dict[str, list[str]]) -> str:
    commands = [w for w in words[""] if not w.startswith("-")]
    lines = [
        "# bp-helper completion for fish:",
        "#   bp-helper completion fish > ~/.config/fish/completions/bp-helper.fish",
        "complete -c bp-helper -f",
        "complete -c bp-helper -l profile -x -a '(bp-helper completion --profiles 2>/dev/null)'",
        f"complete -c bp-helper -n __fish_use_subcommand -a {shlex.quote(' '.join(commands))}",
    ]
    for option in words[""]:
        if option.startswith("--") and option != "--profile":
            lines.append(f"complete -c bp-helper -n __fish_use_subcommand -l {option[2:]}")
    for name, items in words.items():
        if not name:
            continue
        seen = f"'__fish_seen_subcommand_from {name}'"
        args = [w for w in items if not w.startswith("-")]
        if name == "switch":
            lines.append(f"complete -c bp-helper -n {seen} -a '({ACCOUNTS})'")
        if args:
            lines.append(f"complete -c bp-helper -n {seen} -a {shlex.quote(' '.join(args))}")
        for option in items:
            if option.startswith("--") and option != "--profile":
                lines.append(f"complete -c bp-helper -n {seen} -l {option[2:]}")
    return "\n".join(lines)
