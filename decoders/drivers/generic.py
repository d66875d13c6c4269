"""Generic OMS water meter: the fallback for any meter that follows EN 13757-3 records."""

from __future__ import annotations

from decoders.drivers.base import Case, Driver, Fields
from decoders.drivers.oms import GENERIC_ERROR_FLAGS, oms_fields
from decoders.frame import Frame


def extract(frame: Frame) -> Fields:
    """Standard OMS fields; any error flag counts as ``error``."""
    return oms_fields(frame)


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        # Fact sheet V1 (OMS Annex N.2.1): frame A with CRCs, mode 5.
        Case(
            "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC9"
            "55B29D6D69EBF3EC8A",
            "0102030405060708090A0B0C0D0E0F11",
            {
                "meter_id": "12345678",
                "manufacturer": "ELS",
                "total_m3": 28504.27,
                "meter_datetime": "2008-05-31T23:50:00",
                "alarms": [],
            },
        ),
    )


DRIVER = Driver(
    name="oms",
    matches=(),
    extract=extract,
    oms=(GENERIC_ERROR_FLAGS, True),
    description="Fallback for standard OMS/EN 13757-3 water meters.",
    cases=_cases,
)
