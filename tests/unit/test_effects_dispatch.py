"""Effects are addressed messages: kept in order, each once, and the app's one dispatch
routes each kind to the actor its address names."""

from __future__ import annotations

import pytest

from daemon.actors import driver_actor
from daemon.app import ROUTES, dispatch_effects
from daemon.engine import effects as fx
from daemon.storefronts import actor as storefront_actor


class Recorder:
    """A mailbox that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[object] = []

    def tell(self, message: object, /) -> None:
        self.told.append(message)


def test_effects_keep_their_order_and_each_message_once() -> None:
    effects = fx.Effects(fx.Wake("a"), fx.Poll("a"))
    effects.add(fx.Wake("a"))
    other = fx.Effects(fx.Import("a", 3), fx.Poll("a"), fx.Reprocess())
    effects.merge(other)
    assert list(effects) == [fx.Wake("a"), fx.Poll("a"), fx.Import("a", 3), fx.Reprocess()]
    assert effects.reprocess and fx.Import("a", 3) in effects and len(effects) == 4
    assert not fx.Effects() and not fx.Effects().reprocess


#: (effect, actor kind, its name, what that actor is told)
CASES: list[tuple[fx.Effect, str, str, object]] = [
    (fx.Wake("mis"), "account", "mis", driver_actor.Wake()),
    (fx.Poll("mis"), "account", "mis", driver_actor.Poll()),
    (fx.Import("mis", 7), "account", "mis", driver_actor.RunImport(7)),
    (
        fx.Fetch("shop", "s", "1001", 4),
        "storefront",
        "shop",
        storefront_actor.Fetch("s", "1001", 4),
    ),
    (
        fx.Write("shop", '{"op":"note"}'),
        "storefront",
        "shop",
        storefront_actor.Write('{"op":"note"}'),
    ),
    (fx.PollStorefront("shop"), "storefront", "shop", storefront_actor.PollOrders()),
]


@pytest.mark.parametrize(
    ("effect", "kind", "name", "told"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_each_message_kind_goes_to_the_actor_its_address_names(
    effect: fx.Effect, kind: str, name: str, told: object
) -> None:
    accounts = {"mis": Recorder(), "other": Recorder()}
    storefronts = {"shop": Recorder(), "other": Recorder()}
    mailed: list[bool] = []
    dispatch_effects(fx.Effects(effect), accounts, storefronts, lambda: mailed.append(True))
    assert effect.address == (kind, name)
    chosen = (accounts if kind == "account" else storefronts)[name]
    assert chosen.told == [told]
    everyone = [*accounts.values(), *storefronts.values()]
    assert sum(len(r.told) for r in everyone) == 1 and not mailed


def test_mail_goes_to_the_mailer_reprocess_nowhere_and_unknown_actors_are_skipped() -> None:
    accounts = {"mis": Recorder()}
    storefronts = {"shop": Recorder()}
    mailed: list[bool] = []
    effects = fx.Effects(
        fx.SendMail(), fx.Reprocess(), fx.Wake("gone"), fx.Fetch("gone", "s", "1", 1)
    )
    dispatch_effects(effects, accounts, storefronts, lambda: mailed.append(True))
    assert mailed == [True]
    assert accounts["mis"].told == [] and storefronts["shop"].told == []


def test_every_routed_message_kind_has_a_case() -> None:
    assert {type(c[0]) for c in CASES} == set(ROUTES)


def test_messages_are_dispatched_in_the_order_they_were_added() -> None:
    accounts = {"mis": Recorder()}
    dispatch_effects(
        fx.Effects(fx.Poll("mis"), fx.Import("mis", 1), fx.Wake("mis")), accounts, {}, lambda: None
    )
    assert accounts["mis"].told == [
        driver_actor.Poll(),
        driver_actor.RunImport(1),
        driver_actor.Wake(),
    ]
