"""``mlops-iac completion``: print a shell completion script for bash, zsh or fish.

The script is generated from the command line parser itself, so it completes exactly the
commands and options this version has: command names, each command's options, the values of
options with a fixed set (``--format``, ``--auth``…), stack names from the Pulumi.<stack>.yaml
files of the current directory and of stacks/, and file names for the other options.

Install: bash ``mlops-iac completion bash > ~/.local/share/bash-completion/completions/mlops-iac``;
zsh ``mlops-iac completion zsh > "${fpath[1]}/_mlops-iac"`` (or ``source <(mlops-iac completion
zsh)`` in ~/.zshrc); fish ``mlops-iac completion fish > ~/.config/fish/completions/mlops-iac.fish``.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass

from mlops_iac.cli import EXIT_OK, describe

NAME = "completion"
PROG = "mlops-iac"
SHELLS = ("bash", "zsh", "fish")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``completion`` subcommand."""
    parser = subparsers.add_parser(
        NAME,
        help="print a shell completion script (bash, zsh or fish)",
        description=describe(__doc__),
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the script for ``args.shell``."""
    from mlops_iac.cli.main import build_parser

    print(script(build_parser(), args.shell), end="")
    return EXIT_OK


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    takes_value: bool
    choices: tuple[str, ...]
    help: str


@dataclass(frozen=True)
class _Command:
    path: str  # "plan", "drift check"; "" is the program itself
    help: str
    options: tuple[_Option, ...]
    children: tuple[tuple[str, str], ...]  # (name, help) of its subcommands
    positional_choices: tuple[str, ...]


def _commands(parser: argparse.ArgumentParser, path: str = "", help: str = "") -> list[_Command]:
    options: list[_Option] = []
    children: list[tuple[str, str]] = []
    positional: list[str] = []
    found: list[_Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                children.append((name, helps.get(name, "")))
                found.extend(_commands(sub, f"{path} {name}".strip(), helps.get(name, "")))
        elif action.option_strings:
            if isinstance(action, argparse._HelpAction):
                continue
            options.append(
                _Option(
                    tuple(action.option_strings),
                    action.nargs != 0,
                    tuple(str(c) for c in action.choices or ()),
                    action.help or "",
                )
            )
        elif action.choices:
            positional.extend(str(c) for c in action.choices)
    options.append(_Option(("--help", "-h"), False, (), "show the help"))
    return [
        _Command(path, help, tuple(options), tuple(children), tuple(positional)),
        *found,
    ]


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (bash, zsh or fish)."""
    commands = _commands(parser)
    if shell == "fish":
        return _fish(commands)
    bash = _bash(commands)
    if shell == "zsh":
        # zsh runs bash completion functions through its bashcompinit layer.
        return (
            f"#compdef {PROG}\n"
            "autoload -U +X compinit && compinit\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash
        )
    return bash


_STACKS_BASH = """_mlops_iac_stacks() {
  local f
  for f in Pulumi.*.yaml stacks/Pulumi.*.yaml; do
    [ -e "$f" ] || continue
    f="${f##*/Pulumi.}"; f="${f#Pulumi.}"; printf '%s\\n' "${f%.yaml}"
  done
}
"""


def _words(items: list[str] | tuple[str, ...]) -> str:
    return shlex.quote(" ".join(items))


def _bash(commands: list[_Command]) -> str:
    func = "_mlops_iac"
    steps = []
    for command in commands:
        for name, _help in command.children:
            steps.append(f'      "{command.path}|{name}") path="${{path:+$path }}{name}" ;;')
    values = []
    for command in commands:
        for option in command.options:
            if not option.takes_value:
                continue
            pattern = "|".join(f'"{command.path}|{flag}"' for flag in option.flags)
            if {"--stack", "-s"} & set(option.flags):
                reply = 'COMPREPLY=($(compgen -W "$(_mlops_iac_stacks)" -- "$cur"))'
            elif option.choices:
                reply = f'COMPREPLY=($(compgen -W {_words(option.choices)} -- "$cur"))'
            else:
                reply = "COMPREPLY=()"  # -o default: file names
            values.append(f"    {pattern}) {reply}; return ;;")
    words = []
    for command in commands:
        listed = [n for n, _ in command.children] + list(command.positional_choices)
        listed += [flag for option in command.options for flag in option.flags]
        words.append(
            f'    "{command.path}") COMPREPLY=($(compgen -W {_words(listed)} -- "$cur")) ;;'
        )
    return (
        f"# {PROG} completion for bash (generated by `{PROG} completion bash`)\n"
        + _STACKS_BASH
        + f"{func}() {{\n"
        '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"\n'
        '  local path="" w\n'
        '  for w in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do\n'
        '    case "$path|$w" in\n' + "\n".join(steps) + "\n    esac\n  done\n"
        '  case "$path|$prev" in\n' + "\n".join(values) + "\n  esac\n"
        '  case "$path" in\n' + "\n".join(words) + "\n  esac\n"
        "}\n"
        f"complete -o default -F {func} {PROG}\n"
    )


def _fish_text(text: str) -> str:
    first = " ".join(text.split())
    return "'" + first[:80].replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(commands: list[_Command]) -> str:
    lines = [
        f"# {PROG} completion for fish (generated by `{PROG} completion fish`)",
        f"complete -c {PROG} -f",
        "function __mlops_iac_stacks",
        "    for f in Pulumi.*.yaml stacks/Pulumi.*.yaml",
        "        string replace -r '^(.*/)?Pulumi\\.(.*)\\.yaml$' '$2' -- $f",
        "    end",
        "end",
    ]
    top = [c for c in commands if c.path]
    every = " ".join(c.path.split()[-1] for c in top)
    for command in commands:
        words = command.path.split()
        if not words:
            condition = f"not __fish_seen_subcommand_from {every}"
        else:
            condition = f"__fish_seen_subcommand_from {words[-1]}"
            if len(words) > 1:
                condition = f"__fish_seen_subcommand_from {words[0]}; and {condition}"
        if command.children:
            names = " ".join(n for n, _ in command.children)
            nested = f"{condition}; and not __fish_seen_subcommand_from {names}"
            if not words:
                nested = condition
            for name, text in command.children:
                lines.append(
                    f"complete -c {PROG} -n {shlex.quote(nested)} -a {name} -d {_fish_text(text)}"
                )
        for choice in command.positional_choices:
            lines.append(f"complete -c {PROG} -n {shlex.quote(condition)} -a {choice}")
        for option in command.options:
            parts = [f"complete -c {PROG} -n {shlex.quote(condition)}"]
            for flag in option.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if {"--stack", "-s"} & set(option.flags):
                parts.append("-x -a '(__mlops_iac_stacks)'")
            elif option.choices:
                parts.append(f"-x -a {_words(option.choices)}")
            elif option.takes_value:
                parts.append("-r -F")
            parts.append(f"-d {_fish_text(option.help)}")
            lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"
