"""enatool command line: click commands only (parse -> call a program -> render).

Commands are imported lazily so that `enatool --help` never loads numba, bcc or pyroute2.
"""

from __future__ import annotations

import importlib

import click

from enatool import __version__
from enatool.cli.common import EnatoolGroup

# command name -> "module:attribute" (loaded only when the command runs or its help is shown)
_COMMANDS = {
    "doctor": "enatool.cli.doctor:doctor",
    "gen": "enatool.cli.gen:gen",
    "info": "enatool.cli.info:info",
    "latency": "enatool.cli.latency:latency",
    "moderation": "enatool.cli.moderation:moderation",
    "reflect": "enatool.cli.reflect:reflect",
    "rss": "enatool.cli.rss:rss",
    "sink": "enatool.cli.sink:sink",
}


class LazyGroup(EnatoolGroup):
    """Commands by name, imported on use (``enatool --help`` loads none of them)."""

    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="enatool")
def cli():
    """Drive Amazon ENA interfaces through eBPF/AF_XDP, or the built-in software ENA
    device when no interface is named.

    \b
    Examples:
      enatool info                 probe the software ENA device, print what was negotiated
      enatool doctor               what this machine can do (BPF, XDP, AF_XDP, bcc, numba)
    """


def main():
    cli(prog_name="enatool")
