"""README.md and the command line agree, as sqlite-utils checks its docs: every command and option
that ``archiver --help`` and each command's ``--help`` list is shown in the README, and every
``archiver <command> --option`` the README shows exists.

A command counts as shown when README code (a fenced block or an inline code span) runs
``archiver <command>``; an option of a command when it appears on such a line for that command
(the synopsis under "## Commands" is the natural place); an option of ``archiver`` itself when it
appears anywhere in the README. An option is shown when any of its names is (``-o`` or
``--output``). A failure names each command or option and what to add where.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click

from archiver.cli import main
from tests.conftest import ROOT

README = ROOT / "README.md"
STOP = {"#", "|", "||", "&&", ";", ">", ">>", "2>&1"}  # the end of the archiver invocation on a line


def code_lines(markdown: str) -> Iterator[str]:
    """The lines of fenced code blocks and every inline code span."""
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            yield line
        else:
            yield from re.findall(r"`([^`]+)`", line)


def invocations(markdown: str) -> Iterator[tuple[list[str], list[str]]]:
    """(command path, options shown) for each ``archiver …`` run in the README's code."""
    for line in code_lines(markdown):
        try:
            words = shlex.split(line, comments=False)
        except ValueError:
            words = line.split()
        for i, word in enumerate(words):
            if word.rsplit("/", 1)[-1] == "archiver" and not word.endswith("/"):
                yield parse(words[i + 1 :])


def parse(words: list[str]) -> tuple[list[str], list[str]]:
    """The command path (through groups) and the options of one invocation's words."""
    path: list[str] = []
    options: list[str] = []
    group: click.Command = main
    skip = False
    for word in words:
        if word in STOP or word.startswith("#"):
            break
        if skip:
            skip = False
            continue
        name = word.strip("[](){},")
        if name.startswith("-") and name != "-":
            option = name.split("=", 1)[0]
            options.append(option)
            skip = option in takes_value(group) and "=" not in name  # its value is not a command
        elif isinstance(group, click.Group) and name in group.commands:
            path.append(name)
            group = group.commands[name]
        elif isinstance(group, click.Group) and re.fullmatch(r"[a-z][a-z-]*", name) and not path:
            path.append(name)  # an unknown command: reported by the test
            break
    return path, options


def takes_value(command: click.Command) -> set[str]:
    """The names of ``command``'s options that are followed by a value."""
    return {
        name
        for p in command.params
        if isinstance(p, click.Option) and not p.is_flag and not p.count
        for name in p.opts
    }


def commands(
    group: click.Group = main, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if command.hidden:
            continue
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


def options_of(command: click.Command) -> list[list[str]]:
    """Each visible option's names (``--help`` aside)."""
    return [
        [*p.opts, *p.secondary_opts]
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and "--help" not in p.opts
    ]


def shown() -> dict[tuple[str, ...], set[str]]:
    """Command path → the options the README shows with it."""
    found: dict[tuple[str, ...], set[str]] = {}
    for path, options in invocations(README.read_text(encoding="utf-8")):
        found.setdefault(tuple(path), set()).update(options)
    return found


def test_every_command_and_option_of_the_help_is_in_the_readme() -> None:
    readme, documented = README.read_text(encoding="utf-8"), shown()
    missing = []
    for path, command in commands():
        name = "archiver " + " ".join(path)
        if path not in documented:
            missing.append(
                f"command `{name}`: show it in README.md's code, e.g. in the synopsis under ## Commands"
            )
            continue
        for names in options_of(command):
            if not documented[path] & set(names):
                missing.append(
                    f"option {' / '.join(names)} of `{name}`: add it to a README.md line that runs `{name}` "
                    "(the synopsis under ## Commands)"
                )
    for names in options_of(main):
        if not any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", readme) for n in names):
            missing.append(f"option {' / '.join(names)} of `archiver`: mention it in README.md")
    assert not missing, "README.md does not show:\n" + "\n".join(missing)


def test_every_command_and_option_the_readme_shows_exists() -> None:
    known = dict(commands())
    wrong = []
    for path, options in shown().items():
        name = " ".join(["archiver", *path])
        if path and path not in known:
            wrong.append(f"`{name}`: README.md shows a command that `archiver --help` does not list")
            continue
        own = options_of(known[path]) if path else []
        valid = {n for names in [*own, *options_of(main)] for n in names} | {"--help"}
        wrong += [
            f"`{name} {option}`: README.md shows an option that `{name} --help` does not list"
            for option in sorted(options - valid)
        ]
    assert not wrong, "README.md shows what the command line does not have:\n" + "\n".join(wrong)


def test_the_check_reads_a_synopsis_as_the_readme_writes_one() -> None:
    markdown = """
```sh
archiver audit [--format json|csv|html] [-o PATH]   # a comment --not-an-option
.venv/bin/archiver --config c.toml --log-file x run --json | head
```
Prose with `archiver frobnicate --fast`, `archiver/` paths and `archiver` alone.
"""
    assert list(invocations(markdown)) == [
        (["audit"], ["--format", "-o"]),
        (["run"], ["--config", "--log-file", "--json"]),
        (["frobnicate"], []),
        ([], []),
    ]
