"""Option shapes az uses that click lacks."""

from __future__ import annotations

from typing import Any

import click
from click.parser import _OptionParser, _ParsingState


class MultiValueOption(click.Option):
    """An option taking every value up to the next option, as az's ``--config a=1 b=2``.

    The values of one occurrence arrive joined by spaces (the command splits them); it may also be
    repeated. Built on click's parser hooks, the documented way to extend option parsing.
    """

    def add_to_parser(self, parser: _OptionParser, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            original = option.process

            def process(value: Any, state: _ParsingState, original: Any = original) -> None:
                values = [value]
                while state.rargs and not str(state.rargs[0]).startswith("-"):
                    values.append(state.rargs.pop(0))
                original(" ".join(str(v) for v in values), state)

            option.process = process  # type: ignore[method-assign]
