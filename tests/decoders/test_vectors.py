"""Fact-sheet test vectors V1–V13 (those whose full hex is in the fact sheet)."""

from __future__ import annotations

from datetime import datetime

import pytest

from decoders import decode, static_keys

OMS_KEY_A = "0102030405060708090A0B0C0D0E0F11"
OMS_KEY_B = "000102030405060708090A0B0C0D0E0F"

VECTORS = [
    pytest.param(
        "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC955B2"
        "9D6D69EBF3EC8A",
        OMS_KEY_A,
        {
            "meter_id": "12345678",
            "manufacturer": "ELS",
            "total_m3": 28504.27,
            "security_mode": 5,
            "meter_datetime": datetime(2008, 5, 31, 23, 50),
        },
        id="V1-mode5-frameA",
    ),
    pytest.param(
        "434493157856341233037AC98C2075900F002C25B30A000021924D4FBA372FB66E017A75002007109058475F4BC9D128"
        "1DF878B80A1B0F98B629024AAC7279429398BFC549233C0140829B93BAA1",
        OMS_KEY_B,
        {"meter_id": "12345678", "total_m3": 28504.27, "security_mode": 7},
        id="V2-mode7-ELL-AFL",
    ),
    pytest.param(
        "53082448443322110337D0468E80753A63665544330A31900F002C25E00AB30A0000AF5D74DF73A600D972785634C027"
        "129315330375002007109058475F4BC955CF1DF878B80A1B0F98B629024AAC7279429398BFC549233C0140829B93BAA1",
        OMS_KEY_B,
        {"meter_id": "12345678", "manufacturer": "ELS", "link_meter_id": "11223344", "total_m3": 28504.27},
        id="V3-radio-adapter-long-header",
    ),
    pytest.param(
        "2D44934444332211553769EF7288776655934455080004100500DFE227F9A782146D1513581CD2F83F39040CFD1040C4785634128134",
        OMS_KEY_B,
        {"meter_id": "55667788", "manufacturer": "QDS", "status": 0x04, "device_type": 0x08},
        id="V4-partial-encryption",
    ),
    pytest.param(
        "24442D2C692845631B168D3050209CD621B006B1140AEF4953AE5B86FAFC0B00E70705B846",
        "4E5508544202058100DFEFA06B0934A5",
        {"meter_id": "63452869", "manufacturer": "KAM", "total_m3": 474.24, "target_m3": 473.247},
        id="V5-ELL-CTR",
    ),
    pytest.param(
        "2A442D2C998734761B168D2091D37CAC21E1D68CDAFFCD3DC452BD802913FF7B1706CA9E355D6C2701CC24",
        "28F64A24988064A079AA2C807D6102AE",
        {"meter_id": "76348799", "total_m3": 6.408, "target_m3": 6.408},
        id="V6-kamstrup-CTR",
    ),
    pytest.param(
        "3944FA122162092002067A3600202567C94D48D00DC47B11213E23383DB51968A705AAFA60C60E263D50CD259D7C9A03"
        "FD0C08000002FD0B0011",
        "BEDB81B52C29B5C143388CBB0D15A051",
        {
            "meter_id": "20096221",
            "total_m3": 0.106,
            "meter_datetime": datetime(2020, 7, 30, 10, 40),
            "total_backward_m3": 0.0,
        },
        id="V7-waterstarm",
    ),
    pytest.param(
        "6e4401068888888805077a85006085bc2630713819512eb4cd87fba554fb43f67cf9654a68ee8e194088160df752e716"
        "238292e8af1ac20986202ee561d743602466915e42f1105d9c6782a54504e4f099e65a7656b930c73a30775122d2fdf0"
        "74b5035cfaa7e0050bf32faae03a77",
        "00000000000000000000000000000000",
        {"meter_id": "88888888", "total_m3": 4.848, "driver": "apator162"},
        id="V10-apator162",
    ),
    pytest.param(
        "1C440106813591041407A0B000266A705474DDB80D9A0EB9AE2EF29D96",
        "00000000000000000000000000000000",
        {"meter_id": "04913581", "total_m3": 345.312, "driver": "apatorna1"},
        id="V11-apatorna1",
    ),
    pytest.param(
        "3444EE4D813929271608811D7A51000000046D1912A62B036E0000005170426CE1F1436E00000002FF2C00000259D6D0"
        "D4090265FC0902FD66A00044C4",
        None,
        {"meter_id": "27293981", "manufacturer": "SON"},
        id="V12-frameA-plain",
    ),
    pytest.param(
        "2944A511780729662366A20118001378D3B3DB8CEDD77731F25832AAF3DA8CADF9774EA673172E8C61F2",
        None,
        {"meter_id": "66236629", "total_m3": 16.76, "target_m3": 11.84, "driver": "izar"},
        id="V13-prios",
    ),
]


@pytest.mark.parametrize(("hexframe", "key", "expect"), VECTORS)
def test_fact_sheet_vector_decodes_to_documented_values(hexframe: str, key: str | None, expect: dict) -> None:
    keys = static_keys({expect["meter_id"]: key}) if key else None
    tg = decode(bytes.fromhex(hexframe), keys)
    for name, value in expect.items():
        got = getattr(tg, name)
        if isinstance(value, float):
            assert got == pytest.approx(value), name
        else:
            assert got == value, name


def test_v4_partial_encryption_keeps_plain_tail_record() -> None:
    tg = decode(bytes.fromhex(VECTORS[3].values[0]), static_keys({"55667788": OMS_KEY_B}))
    keys = [r.key for r in tg.records]
    assert "0cfd10" in keys  # customer location, sent after the encrypted block
    assert next(r for r in tg.records if r.key == "0cfd10").value == "12345678"
