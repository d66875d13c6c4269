"""Every configurable receiver refuses a link mode it cannot do, naming itself and the modes it can."""

from __future__ import annotations

import pytest

from hardware import get_driver


@pytest.mark.parametrize(("kind", "name"), [("im871a", "iM871A"), ("amb8465", "Amber"), ("cul", "CUL"),
                                            ("rc1180", "RC1180")])
def test_unsupported_link_mode_is_a_clear_error(kind: str, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: link mode 'Q7' not supported \(one of \[.*'T1'.*\]\)$"):
        get_driver(kind).init_steps("Q7")


@pytest.mark.parametrize("kind", ["im871a", "amb8465", "cul", "rc1180"])
def test_link_modes_are_case_insensitive(kind: str) -> None:
    def sent(mode: str) -> list[bytes]:
        return [step.send for step in get_driver(kind).init_steps(mode)]

    assert sent("t1") == sent("T1")
