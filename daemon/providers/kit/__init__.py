"""What every provider's driver would otherwise write again: the shared kit.

- `steps`           `ensure_step`: journal, else find, else create, then record (the idempotent
                    create every push step is);
- `journal_values`  typed readers of what a step recorded (a malformed journal is permanent);
- `credentials`     the checks of an account's credentials (required keys, an http(s) url);
- `settings_reader` `SettingsReader`: typed reads of a settings table, every problem named by
                    its key (flags, whole numbers, seconds, choices, dates, e-mails, zones).

A provider starts on these and plain httpx; anything faster is a "fast twin" that needs a
benchmark (docs/providers.md).
"""

from daemon.providers.kit.credentials import required_credentials_problems, url_scheme_problems
from daemon.providers.kit.journal_values import (
    journal_int,
    journal_optional_int,
    journal_text,
    journal_warnings,
)
from daemon.providers.kit.settings_reader import SettingsReader, table_problem
from daemon.providers.kit.steps import ensure_step

__all__ = [
    "SettingsReader",
    "ensure_step",
    "journal_int",
    "journal_optional_int",
    "journal_text",
    "journal_warnings",
    "required_credentials_problems",
    "table_problem",
    "url_scheme_problems",
]
