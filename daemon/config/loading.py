"""Reading the config file: `load_config`, `parse_config`, `check_config`."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from daemon.config.model import Config
from daemon.config.reader import ConfigReader
from daemon.config.values import too_deep
from daemon.errors import ConfigError, ConfigProblem
from daemon.remote.json_text import too_deep_message


def load_config(
    path: Path, *, environ: Mapping[str, str] | None = None, skip_secrets: bool = False
) -> Config:
    """Read and validate the config file at `path`; ConfigError lists every problem.

    `skip_secrets`: check everything but the values of `{env = ...}` and `{credential = ...}`
    secrets (their form is still checked), for an admin shell without the service's
    environment and credentials. Such a Config lacks those values: only for checking."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([ConfigProblem(file, "", f"cannot read the file: {reason}")]) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
        raise ConfigError([ConfigProblem(file, "", message)]) from None
    config = parse_config(text, file=file, environ=environ, skip_secrets=skip_secrets)
    return dataclasses.replace(config, path=path)


def parse_config(
    text: str,
    *,
    file: str = "<string>",
    environ: Mapping[str, str] | None = None,
    skip_secrets: bool = False,
) -> Config:
    """Validate config `text`; ConfigError lists every problem found, not just the first."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages end in "(at line L, column C)" and never quote the text.
        problem = ConfigProblem(file, "", f"TOML syntax error: {exc}")
        raise ConfigError([problem]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError([ConfigProblem(file, "", f"TOML {too_deep_message()}")]) from None
    deep = too_deep(data)
    if deep is not None:  # the reader copies and walks values recursively
        raise ConfigError([ConfigProblem(file, deep, too_deep_message())])
    environ = os.environ if environ is None else environ
    reader = ConfigReader(file, environ, skip_secrets=skip_secrets)
    config = reader.config(data)
    if reader.problems or config is None:
        raise ConfigError(reader.problems)
    return config


def check_config(
    path: Path, *, environ: Mapping[str, str] | None = None, skip_secrets: bool = False
) -> list[ConfigProblem]:
    """Every problem with the config file at `path`; [] when it is valid."""
    try:
        load_config(path, environ=environ, skip_secrets=skip_secrets)
    except ConfigError as exc:
        return list(exc.problems)
    return []
