"""Paths into the estimate request and webhook bodies: parsing, reading, and writes that never
change the document they were given (the example estimate request is shared by many items)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.providers.tharstern.json_paths import (
    MISSING,
    PathError,
    parse_path,
    path_problem,
    read,
    remove,
    write,
    write_all,
)
from tests.providers.tharstern.samples import example_request


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Customer.Code", "EXAMPLE"),
        ("Parts[0].Name", "Cover"),
        ("Parts[-1].Name", "Text"),
        ("Parts[Name=text].GSM", 130),  # a match ignores case
        ("Parts[ProductTypePartId=2].Pages", 16),  # a number is matched as text
        ("Processes[0].ProcessTypeID", 20),
        ("Parts[2].Name", MISSING),
        ("Parts[Name=Insert].GSM", MISSING),
        ("Customer.Missing", MISSING),
        ("Title.Code", MISSING),  # a step into text
        ("Customer[0]", MISSING),  # an index into an object
    ],
)
def test_read(path: str, expected: object) -> None:
    assert read(example_request(), parse_path(path)) == expected


@pytest.mark.parametrize(
    ("path", "value", "check", "expected"),
    [
        ("Title", "1001-1 Flyers", "Title", "1001-1 Flyers"),
        ("Customer.Code", "WEB001", "Customer.Code", "WEB001"),
        ("Customer.Address.City", "Leeds", "Customer.Address.City", "Leeds"),  # made on the way
        ("Parts[1].Pages", 24, "Parts[Name=Text].Pages", 24),
        ("Parts[Name=Cover].PaperCode", "SILK350", "Parts[0].PaperCode", "SILK350"),
        ("Processes[]", {"ProcessTypeID": 13}, "Processes[1].ProcessTypeID", 13),
        ("Parts[0].Processes[]", {"ProcessTypeID": 12}, "Parts[0].Processes[0].ProcessTypeID", 12),
        ("Notes[]", "first", "Notes[0]", "first"),  # a missing list is made
    ],
)
def test_write_returns_a_new_document(
    path: str, value: object, check: str, expected: object
) -> None:
    original = example_request()
    written = write(original, parse_path(path), value)
    assert read(written, parse_path(check)) == expected
    assert original == example_request()  # the input is unchanged


def test_a_written_value_is_a_copy() -> None:
    value: dict[str, Any] = {"ProcessTypeID": 13}
    written = write(example_request(), parse_path("Processes[]"), value)
    value["ProcessTypeID"] = 99
    assert written["Processes"][1] == {"ProcessTypeID": 13}


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("Parts[5].Pages", "Parts[5]: no such element (the list has 2)"),
        ("Parts[Name=Insert].Pages", "no such element"),
        ("Title.Code", "Title is not an object"),
        ("Customer[0].Code", "Customer is not a list"),
        ("Title[]", "Title is not a list"),
    ],
)
def test_a_write_that_cannot_follow_the_path(path: str, words: str) -> None:
    with pytest.raises(PathError) as caught:
        write(example_request(), parse_path(path), 1)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "expected a path"),
        ("Parts..Pages", "step ''"),
        ("Parts[x].Pages", "step 'Parts[x]'"),
        ("Parts[].Pages", "only the last step may append"),
        ("Customer Code", "step 'Customer Code'"),
        (".".join(["A"] * 21), "more than 20 steps"),
    ],
)
def test_bad_paths(path: str, words: str) -> None:
    problem = path_problem(path)
    assert problem is not None and words in problem


def test_remove() -> None:
    original = example_request()
    assert "JobType" not in remove(original, parse_path("JobType"))
    assert [p["Name"] for p in remove(original, parse_path("Parts[Name=Cover]"))["Parts"]] == [
        "Text"
    ]
    assert remove(original, parse_path("Nothing.Here")) == original
    assert original == example_request()


_KEYS = st.sampled_from(["Title", "Ref1", "Customer", "Parts", "Code", "Extra"])
_VALUES = st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans())


@given(keys=st.lists(_KEYS, min_size=1, max_size=4), value=_VALUES)
def test_a_write_is_read_back_and_leaves_the_input_alone(keys: list[str], value: object) -> None:
    path = parse_path(".".join(keys))
    original = example_request()
    try:
        written = write(original, path, value)
    except PathError:
        return  # a step into text or a list: refused, and still nothing changed
    finally:
        assert original == example_request()
    assert read(written, path) == value


def test_write_all_is_each_write_in_turn_on_one_copy() -> None:
    original = example_request()
    edits: list[tuple[Any, object]] = [
        (parse_path("Parts[0].PaperCode"), "SILK170"),
        (parse_path("Processes[]"), {"Name": "Fold"}),
        (parse_path("Parts[0].PaperCode"), "GLOSS150"),
    ]
    one_by_one: dict[str, Any] = dict(original)
    for path, value in edits:
        one_by_one = write(one_by_one, path, value)
    assert write_all(original, edits) == one_by_one
    assert original == example_request()
    with pytest.raises(PathError, match=r"Parts\[9\]"):
        write_all(original, [(parse_path("Parts[9].Gsm"), 1)])
