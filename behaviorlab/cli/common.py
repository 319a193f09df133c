"""What every command module of the CLI shares: error reporting and config files."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from behaviorlab.errors import BehaviorlabError, missing_extra

__all__ = ["friendly_errors", "json_text", "read_config"]


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the package's own errors into a one-line message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BehaviorlabError as err:
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from None
        except ImportError as err:
            extra = missing_extra(err)
            if extra is None:
                raise
            typer.secho(f"error: {extra}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from None

    return wrapper


def read_config(path: Path) -> dict[str, Any]:
    """Read a YAML/JSON mapping of options, with a clear error naming the file."""
    import yaml  # lazy: loads when the command runs (a fast --help)

    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)

    if not path.is_file():
        raise FileFormatError(path, "config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FileFormatError(path, f"not valid YAML/JSON: {err}") from None
    if not isinstance(data, dict):
        raise FileFormatError(path, "expected a mapping of option names to values")
    return data


def json_text(obj: Any) -> str:
    """Return ``obj`` as valid JSON: NaN and infinities as ``null`` (JSON has no NaN), NumPy scalars as numbers."""
    import json  # lazy: loads when the command runs (a fast --help)
    import math  # lazy: loads when the command runs (a fast --help)

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if hasattr(value, "item") and not isinstance(value, str | bytes):  # NumPy scalars
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return json.dumps(plain(obj), indent=2, allow_nan=False)
