"""The depth-limited JSON parse (one function: unit tests)."""

from __future__ import annotations

import json

import pytest

from daemon.remote.json_text import MAX_DEPTH, JsonTooDeep, depth_error, loads


def test_the_limit_itself_parses_and_one_more_level_is_refused_where_it_goes_over() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    text = '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)
    with pytest.raises(JsonTooDeep) as caught:
        loads(text)
    assert caught.value.pos == text.index("{", 6 * MAX_DEPTH)
    assert isinstance(caught.value, json.JSONDecodeError), "handled where syntax errors are"


def test_brackets_inside_strings_do_not_nest_and_many_flat_brackets_are_fine() -> None:
    assert depth_error('["' + "[" * 500 + '\\"[", ' + "[], " * 500 + "[]]") is None
    assert loads(b'[["x"]]') == [["x"]]
    assert loads('{"v": NaN}', parse_constant=lambda name: name) == {"v": "NaN"}
