"""Shared click helpers: one error policy and one JSON shape for every command.

Why: a user-caused error (EnatoolError) is one line on stderr with a hint and the error's
exit code; Ctrl-C is exit 130 with a short note; click's own usage errors keep exit 2.
Anything else is a bug and keeps its traceback. JSON output always carries schema_version.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from enatool.errors import EnatoolError

F = TypeVar("F", bound=Callable[..., Any])

SCHEMA_VERSION = 1
EXIT_INTERRUPTED = 130


def fail(message: str, code: int = 1) -> None:
    """Print ``enatool: error: message`` on stderr and exit with ``code``."""
    click.echo(f"enatool: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Decorator for command callbacks: EnatoolError -> one line + exit_code; Ctrl-C -> 130.

    click.UsageError / BadParameter pass through untouched so click prints them (exit 2).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except EnatoolError as e:
            fail(e.one_line(), e.exit_code)
        except KeyboardInterrupt:
            click.echo("enatool: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def usage_line(e: click.UsageError) -> None:
    """click's usage error as the one-line policy (exit 2), pointing at the command's --help."""
    ctx = e.ctx
    where = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
    fail(f"{e.format_message().rstrip('.')}{where}", e.exit_code)


def writable_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Option callback: an output file must be creatable before the run starts, so a typo
    in a directory is a one-line usage error and not a traceback after minutes of work.
    ``-`` (stdout) passes."""
    if value is None or value == "-":
        return value
    import os

    if os.path.isdir(value):
        raise click.BadParameter(f"{value} is a directory", ctx=ctx, param=param)
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(parent):
        raise click.BadParameter(f"no directory {parent}", ctx=ctx, param=param)
    if not os.access(parent, os.W_OK) or (os.path.exists(value)
                                          and not os.access(value, os.W_OK)):
        raise click.BadParameter(f"{value} is not writable", ctx=ctx, param=param)
    return value


def writable_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Option callback: an output directory, created now (so a bad path fails before the run
    instead of after it) and writable."""
    if value is None:
        return value
    import os

    try:
        os.makedirs(value, exist_ok=True)
    except OSError as e:
        raise click.BadParameter(f"cannot create {value} ({e.strerror})", ctx=ctx,
                                 param=param) from None
    if not os.access(value, os.W_OK):
        raise click.BadParameter(f"{value} is not writable", ctx=ctx, param=param)
    return value


class EnatoolGroup(click.Group):
    """click.Group whose unknown sub-command or bad option is one line on stderr (exit 2), like
    every other usage error, instead of click's usage block; a bare group still shows help."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:
            usage_line(e)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as e:
            e.ctx = e.ctx or ctx
            usage_line(e)


class EnatoolCommand(click.Command):
    """click.Command with the error policy applied to parsing and to the callback, so every
    error a user can cause (including bad options) is one line on stderr."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            if e.ctx is None:
                e.ctx = ctx
            usage_line(e)
            raise  # unreachable: fail() exits

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            if e.ctx is None:
                e.ctx = ctx
            usage_line(e)
        except EnatoolError as e:
            fail(e.one_line(), e.exit_code)
        except KeyboardInterrupt:
            click.echo("enatool: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


def command(name: str | None = None, **kwargs: Any) -> Callable[[F], click.Command]:
    """``click.command`` with :class:`EnatoolCommand` (use this for every enatool command)."""
    kwargs.setdefault("cls", EnatoolCommand)
    kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
    return click.command(name, **kwargs)


def json_option(func: F) -> F:
    """``-j/--json``: machine-readable output (bcc-tools convention)."""
    return click.option(
        "-j", "--json", "as_json", is_flag=True, help="Print JSON (with schema_version)."
    )(func)


def render_json(payload: dict[str, Any], schema_version: int = SCHEMA_VERSION) -> str:
    """Serialise ``payload`` with ``schema_version`` first; stable key order for diffs."""
    doc = {"schema_version": schema_version, **payload}
    return json.dumps(doc, indent=2, default=str)


def echo_json(payload: dict[str, Any], schema_version: int = SCHEMA_VERSION) -> None:
    click.echo(render_json(payload, schema_version))
