"""Command-line values without pydantic: a start-up cost every run would otherwise pay.

Typer (0.2x) turns each command-line value into its declared type through a pydantic
TypeAdapter, built on first use. Importing pydantic for that takes about a tenth of a second,
every run, for values that are plain text, flags and `str` choices (`--lang fr`). `install()`
gives those the conversion they need — the same answers, the same usage errors — and leaves
every other kind of parameter to Typer. With a Typer that has no such hook (older ones convert
through click) it changes nothing.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

_installed = False


class PlainValue:
    """Typer's RuntimeParam contract (`coerce(value, param, ctx)`) for str, bool and str-Enum
    parameters taking one value. Anything unexpected goes to Typer's own conversion."""

    def __init__(self, annotation: type, fallback: Any) -> None:
        self.annotation = annotation
        self._fallback = fallback  # builds Typer's RuntimeParam, only if ever needed

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:
            return None
        kind = self.annotation
        if kind is str and isinstance(value, str):
            return value
        if kind is bool and isinstance(value, bool):
            return value
        if issubclass(kind, Enum) and isinstance(value, (str, kind)):
            from typer import BadParameter
            from typer._param_types import coerce_cli_choice

            try:
                return coerce_cli_choice(
                    value, choices=list(kind), case_sensitive=param.type_descriptor
                    .parameter_info.case_sensitive, ctx=ctx,
                )
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None
        return self._fallback().coerce(value, param=param, ctx=ctx)


def install() -> None:
    """Give Typer's str, bool and str-choice parameters a pydantic-free conversion."""
    global _installed
    if _installed:
        return
    try:
        from typer import core
        from typer._coercion import build_runtime_param

        parameter = core._TyperParameter
        parameter.get_runtime_param  # noqa: B018 - the hook this relies on
    except (ImportError, AttributeError):
        return  # a Typer without pydantic conversion: nothing to spare
    original = parameter.get_runtime_param

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            plain = _plain_kind(self)
            if plain is not None:
                descriptor = self.type_descriptor
                self._runtime_param = PlainValue(
                    plain, lambda: build_runtime_param(descriptor)
                )
        return original(self)

    parameter.get_runtime_param = get_runtime_param
    _installed = True


def _plain_kind(param: Any) -> type | None:
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if descriptor is None or info is None or descriptor.file_annotation is not None:
        return None
    if param.nargs != 1 or param.multiple or getattr(info, "parser", None) is not None:
        return None
    kind = descriptor.annotation
    if kind is str or kind is bool:
        return kind
    if isinstance(kind, type) and issubclass(kind, Enum) and all(
        isinstance(member.value, str) for member in kind
    ):
        return kind
    return None
