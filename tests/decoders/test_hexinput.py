"""The input contract for telegram text: lenient where users paste from other tools, clear errors elsewhere."""

from __future__ import annotations

import pytest

from decoders import InputError, decode, encoder, frame_from_hex

FRAME = encoder.encode_oms("APA", "12345678", 1, 7, 3, 0, [encoder.volume(1.25)])


@pytest.mark.parametrize(
    "text",
    [
        FRAME.hex(),
        FRAME.hex().upper(),
        "0x" + FRAME.hex(),
        "0X" + FRAME.hex().upper(),
        " ".join(f"{b:02x}" for b in FRAME),
        FRAME.hex()[:20] + "\n  " + FRAME.hex()[20:] + "\r\n",
        FRAME.hex()[:22] + "_" + FRAME.hex()[22:],
        "|" + FRAME.hex()[:30] + "|" + FRAME.hex()[30:] + "|",
        FRAME.hex()[:3] + " " + FRAME.hex()[3:],  # a space inside a byte is a separator too
    ],
)
def test_lenient_spellings_give_the_same_frame(text: str) -> None:
    assert frame_from_hex(text) == FRAME
    assert decode(frame_from_hex(text)).total_m3 == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FRAME.hex()[:-1], "odd number of hex digits"),
        (FRAME.hex() + "g", "'g' at hex digit"),
        ("", "empty frame"),
        ("0x", "empty frame"),
        ("12-34", "'-' at hex digit 3"),
    ],
)
def test_bad_text_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        frame_from_hex(text)
    assert info.value.layer == "input"
