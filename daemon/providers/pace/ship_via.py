"""Ship Via by name (Accounts rule MatchByName): which Pace ShipVia a storefront shipping
method name is, each name asked of Pace once per push and journaled with its shipment step.

The rule (seed 004: "ship_via will be calculated based on
Shipping Method name from Pressero") is the Pace ShipVia whose `description` is the storefront's
shipping method name. EFI does not say whether a find's `=` ignores case; XPath's does not, so
esd asks Pace for the exact name first (one find, quoted by `find_expressions`), then compares
in esd: trimmed, case-insensitive, runs of whitespace as one space (as `account_rules` compares
method names). A name that matches exactly costs that find and a read. Only when it finds no
active Ship Via does esd read Pace's active ones (one find, sorted by description, then a read
each, at most `SHIP_VIA_SCAN_LIMIT`) and compare them the same way; a case-only difference
beyond that many active Ship Vias is not seen. An active Ship Via is preferred to an
inactive one (then the lowest id); an inactive one is used when it is the only match (the shop
named the method after it). A name with both quote characters needs XPath's concat(), which
EFI does not list [GUESS]: if Pace refuses that find, the comparison in esd still decides.
Each name is looked up once per push; the answer is journaled with the shipment step, so a
resumed push (and every later shipment with that name) uses it without asking again, and the
push's warnings name what the shipments were made with. (A push interrupted before the step is
journaled asks again; only a Ship Via changed in Pace meanwhile could make that answer differ
from the one a shipment created without hearing back was made with.) When nothing matches, the
method's name goes to `JobShipment.shipViaNote`, Pace keeps its default Ship Via, and the push
result carries one warning per name listing a few of Pace's active Ship Via descriptions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final

from daemon.errors import BusinessRuleError, NotFound, PermanentError
from daemon.providers.pace.find_expressions import is_true
from daemon.providers.pace.lookups import natural, where
from daemon.providers.pace.soap_client import PaceClient, Sort

__all__ = [
    "SHIP_VIA_NAMES_SHOWN",
    "SHIP_VIA_SCAN_LIMIT",
    "ShipViaByName",
    "ShipVias",
    "choose_ship_via",
    "norm",
    "ship_via_active",
    "unresolved",
]

#: at most this many active Ship Vias are read to match a method name in esd (module docstring)
SHIP_VIA_SCAN_LIMIT: Final = 100
#: an unresolved Ship Via name's warning lists at most this many of Pace's descriptions
SHIP_VIA_NAMES_SHOWN: Final = 5


@dataclasses.dataclass(frozen=True, slots=True)
class ShipViaByName:
    """What a MatchByName shipping method name resolved to: a Pace ShipVia id, or none."""

    name: str  # the storefront's method name, as the Accounts rule gave it
    ship_via: int | None
    known: tuple[str, ...] = ()  # unresolved: the first few active descriptions Pace has
    more: bool = False  # unresolved: Pace has more than `known` shows

    def warning(self) -> str | None:
        """The push's warning when the name matched no Ship Via; None when it did."""
        if self.ship_via is not None:
            return None
        if self.known:
            shown = ", ".join(repr(description) for description in self.known)
            has = f"its active Ship Vias are {shown}{', ...' if self.more else ''}"
        else:
            has = "it has no active Ship Via"
        return (
            f"Ship Via {self.name!r} (Accounts rule MatchByName) matches no EFI Pace Ship Via "
            f"description ({has}); the shipment has the name in its Ship Via note and Pace's "
            "default Ship Via"
        )

    def to_journal(self) -> dict[str, Any]:
        return {
            "ship_via_name": self.name,
            "ship_via": self.ship_via,
            "ship_via_known": list(self.known),
            "ship_via_more": self.more,
        }

    @classmethod
    def from_journal(cls, done: Mapping[str, Any], step: str) -> ShipViaByName | None:
        """The resolution a shipment step recorded; None for a step without one."""
        if "ship_via_name" not in done:
            return None
        name = done.get("ship_via_name")
        ship_via = done.get("ship_via")
        known = done.get("ship_via_known", [])
        more = done.get("ship_via_more", False)
        if (
            not isinstance(name, str)
            or not name
            or (
                ship_via is not None
                and (isinstance(ship_via, bool) or not isinstance(ship_via, int))
            )
            or not isinstance(known, list)
            or not all(isinstance(description, str) for description in known)
            or not isinstance(more, bool)
        ):
            raise PermanentError(f"push journal step {step!r} has a malformed Ship Via")
        return cls(name, ship_via, tuple(known), more)


class ShipVias:
    """Ship Via look-ups by method name (the module docstring), each name asked of Pace once."""

    def __init__(self, client: PaceClient, logger: Any) -> None:
        self._client = client
        self._log = logger
        self._resolved: dict[str, ShipViaByName] = {}

    def remember(self, resolution: ShipViaByName) -> None:
        """Take a journaled answer: the name is not asked again."""
        self._resolved.setdefault(norm(resolution.name), resolution)

    async def resolve(self, name: str) -> ShipViaByName:
        key = norm(name)
        resolution = self._resolved.get(key)
        if resolution is None:
            resolution = await self._look_up(name)
            self._resolved[key] = resolution
        return resolution

    async def _look_up(self, name: str) -> ShipViaByName:
        exact = await self._read_all(await self._find_exact(name))
        chosen = choose_ship_via(name, exact)
        scanned: list[dict[str, Any]] = []
        if chosen is None or not ship_via_active(chosen):
            # No active Ship Via has exactly this name: compare Pace's active ones in esd.
            keys = await self._client.find(
                "ShipVia", is_true("active"), sort=[Sort("description")], limit=SHIP_VIA_SCAN_LIMIT
            )
            scanned = await self._read_all(keys[:SHIP_VIA_SCAN_LIMIT])
            chosen = choose_ship_via(name, [*exact, *scanned])
        if chosen is None:
            self._log.info("pace.ship_via.unresolved", name=name, scanned=len(scanned))
            return unresolved(name, scanned)
        ship_via = int(chosen["id"])
        active = ship_via_active(chosen)
        self._log.info("pace.ship_via.resolved", name=name, ship_via=ship_via, active=active)
        return ShipViaByName(name, ship_via)

    async def _find_exact(self, name: str) -> list[str]:
        try:
            return await self._client.find("ShipVia", where("find ship via", description=name))
        except BusinessRuleError:
            if "'" in name and '"' in name:
                # concat() refused (the module docstring): the comparison in esd decides.
                self._log.info("pace.ship_via.exact_find_refused", name=name)
                return []
            raise

    async def _read_all(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        records = []
        for key in sorted(keys, key=natural):
            try:
                records.append(await self._client.read("ShipVia", key))
            except NotFound:  # removed since the find
                continue
        return records


def choose_ship_via(name: str, records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The Ship Via whose description is `name` (normalized): active first, then lowest id."""
    wanted = norm(name)
    matches = [
        record
        for record in records
        if record.get("id") is not None and norm(str(record.get("description") or "")) == wanted
    ]
    if not matches:
        return None
    return min(matches, key=lambda record: (not ship_via_active(record), int(record["id"])))


def unresolved(name: str, active: Sequence[Mapping[str, Any]]) -> ShipViaByName:
    """No Ship Via for `name`: the first few of Pace's active descriptions go in the warning."""
    descriptions = sorted(
        {" ".join(str(record.get("description") or "").split()) for record in active} - {""},
        key=str.casefold,
    )
    return ShipViaByName(
        name,
        None,
        tuple(descriptions[:SHIP_VIA_NAMES_SHOWN]),
        len(descriptions) > SHIP_VIA_NAMES_SHOWN,
    )


def ship_via_active(record: Mapping[str, Any]) -> bool:
    # Only an explicit false is inactive: a Pace that leaves the flag nil has not retired it.
    return record.get("active") is not False


def norm(text: str) -> str:
    """Trimmed, case-folded, runs of whitespace as one space (as `account_rules` compares)."""
    return " ".join(text.split()).casefold()
