"""The one idempotent create every push step is: journal, else find, else create, then record.

No MIS create is idempotent, so every create is guarded twice (`daemon.providers.contract`):

1. the journal says whether the step finished: then its recorded value is the answer
   (`read`, one of `journal_values`);
2. else the driver looks in the MIS for what an earlier attempt created without hearing the
   answer (`find`);
3. else it creates (`create`);
4. `finish` (optional) completes the object found or created (an update that must happen
   before the step counts as done), and only then is the step recorded, with the value under
   `key` and whatever `extra` adds.

A crash between any two of these repeats at most the find and the finish; never the create of
something already made, as long as `find` can see what `create` makes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from daemon.providers.contract import PushJournal

__all__ = ["ensure_step"]

T = TypeVar("T")


async def ensure_step(
    journal: PushJournal,
    step: str,
    key: str,
    *,
    read: Callable[[Mapping[str, Any], str, str], T],
    find: Callable[[], Awaitable[T | None]],
    create: Callable[[], Awaitable[T]],
    finish: Callable[[T], Awaitable[None]] | None = None,
    extra: Callable[[], Mapping[str, Any]] | None = None,
) -> T:
    """The value of `step`: journaled (read by `read(done, key, step)`), else found, else
    created; a value not journaled yet is recorded as `{key: value, **extra()}`."""
    done = journal.get(step)
    if done is not None:
        return read(done, key, step)
    value = await find()
    if value is None:
        value = await create()
    if finish is not None:
        await finish(value)
    result: dict[str, Any] = {key: value}
    if extra is not None:
        result.update(extra())
    await journal.record(step, result)
    return value
