"""The dashboard pages in real headless Chromium: log in, overview figures, the alert queue's actions
(acknowledge, resolve, dismiss) seen changing, the drill-down's chart drawn, the map filtered by area, the
language switch; screenshots of each page at 1440×900 and 390×844."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.services
WAIT_S = 10


def _wait(driver: Any, cond: Callable[[Any], Any]) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the pages re-render their tables: an element found a moment ago may be replaced while it is read
    return WebDriverWait(driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,
                                                            NoSuchElementException)).until(cond)


def _css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def _row_state(driver: Any, alert_id: int) -> str:
    return str(_css(driver, f'#queue tr[data-id="{alert_id}"] td.state').text)


def test_overview_after_login(logged_in: Any, ui_server: str, screenshot: Callable[[str], list[Path]]) -> None:
    driver = logged_in
    _wait(driver, lambda d: len(d.find_elements("css selector", "#rate tbody tr")) >= 3)
    kpis = _css(driver, "#kpis").text
    assert "Odczytywalność" in kpis and "46,2 %" in kpis  # 6 of 13 active service points read
    rate_all = driver.find_elements("css selector", "#rate tbody tr")[-1].text
    assert "38,5 %" in rate_all and "7,7 %" in rate_all  # 5 actual, 1 meter-stored only
    rate = _css(driver, "#rate").text
    assert "north" in rate and "south" in rate
    assert "dyspozytor (operations)" in _css(driver, "#who").text
    for path in screenshot("overview"):
        assert path.stat().st_size > 10_000


def test_alert_queue_acknowledge_resolve_dismiss(logged_in: Any, ui_server: str, ui_db: tuple[str, dict[str, int]],
                                                screenshot: Callable[[str], list[Path]]) -> None:
    driver = logged_in
    ids = ui_db[1]
    driver.get(f"{ui_server}/ui/alerts")
    _wait(driver, lambda d: len(d.find_elements("css selector", "#queue tbody tr[data-id]")) == 3)
    assert "ul. Wodna 1, Kraków (north)" in _css(driver, "#queue").text
    screenshot("alerts")
    # keyboard: focus the first row, move down to the N01 alert, Enter opens it, "a" acknowledges
    rows = driver.find_elements("css selector", "#queue tbody tr[data-id]")
    order = [int(r.get_attribute("data-id")) for r in rows]
    rows[0].send_keys("")  # focus
    driver.execute_script("arguments[0].focus()", rows[0])
    for _ in range(order.index(ids["N01"])):
        driver.switch_to.active_element.send_keys("j")
    driver.switch_to.active_element.send_keys("\n")
    _wait(driver, lambda d: f"#{ids['N01']}" in _css(d, "#detail h2").text)
    driver.switch_to.active_element.send_keys("a")
    _wait(driver, lambda d: _row_state(d, ids["N01"]) == "potwierdzony")
    _css(driver, "#do-resolve").click()
    _wait(driver, lambda d: d.switch_to.alert).send_keys("wyciek usunięty")
    driver.switch_to.alert.accept()
    _wait(driver, lambda d: _row_state(d, ids["N01"]) == "rozwiązany")
    assert "wyciek usunięty" in _css(driver, "#detail").text
    driver.find_element("css selector", f'#queue tr[data-id="{ids["N05"]}"]').click()
    _wait(driver, lambda d: f"#{ids['N05']}" in _css(d, "#detail h2").text)
    _css(driver, "#do-dismiss").click()
    _wait(driver, lambda d: d.switch_to.alert).send_keys("fałszywy alarm: wymiana wodomierza")
    driver.switch_to.alert.accept()
    _wait(driver, lambda d: _row_state(d, ids["N05"]) == "odrzucony")
    screenshot("alert-detail")
    # the server agrees: state filter shows only the one still open
    driver.get(f"{ui_server}/ui/alerts?state=open")
    _wait(driver, lambda d: [int(r.get_attribute("data-id")) for r in
                             d.find_elements("css selector", "#queue tbody tr[data-id]")] == [ids["S02"]])


def test_drilldown_chart_drawn(logged_in: Any, ui_server: str, screenshot: Callable[[str], list[Path]]) -> None:
    driver = logged_in
    driver.get(f"{ui_server}/ui/service-points/N01")
    _wait(driver, lambda d: d.execute_script("return window.odczytChart.drawn"))
    assert driver.execute_script("return window.odczytChart.points") >= 3  # 72 hourly readings over ≥ 3 days
    # the canvas has non-blank pixels where the bars are
    painted = driver.execute_script("""
        const c = document.querySelector('#chart canvas'); const g = c.getContext('2d');
        const px = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n;""")
    assert painted > 500
    _wait(driver, lambda d: "C-N01" in _css(d, "#info").text)
    assert "KAM" in _css(driver, "#inst").text
    assert "gw-krakow-1" in _css(driver, "#rx").text  # receptions by gateway with RSSI
    assert "ciągły przepływ (wyciek)" in _css(driver, "#alerts").text  # the N01 leak (in Polish)
    assert len(driver.find_elements("css selector", "#readings tbody tr")) >= 70
    _css(driver, '#tabs button[data-iv="hour"]').click()
    _wait(driver, lambda d: d.execute_script("return window.odczytChart.points") >= 70)
    screenshot("service-point")


def test_map_filter_by_area(logged_in: Any, ui_server: str, screenshot: Callable[[str], list[Path]]) -> None:
    from selenium.webdriver.support.ui import Select

    driver = logged_in
    driver.get(f"{ui_server}/ui/map")
    _wait(driver, lambda d: d.execute_script("return window.odczytMap.ready"))
    assert driver.execute_script("return window.odczytMap.drawn") == 13
    _wait(driver, lambda d: d.execute_script("return window.odczytMap.coverage") == 2)  # a hull per gateway
    screenshot("map")
    Select(_css(driver, "#area")).select_by_value("south")
    _wait(driver, lambda d: d.execute_script("return window.odczytMap.ready && window.odczytMap.drawn") == 5)
    Select(_css(driver, "#state")).select_by_value("read")
    _wait(driver, lambda d: d.execute_script("return window.odczytMap.drawn") == 1)  # S01 only
    assert "1 punktów poboru" in _css(driver, "#count").text
    # a click on the drawn dot opens its popup with the drill-down link
    x, y = driver.execute_script("""const m = window.odczytMap.map; const p = m.latLngToContainerPoint(
        [50.02 + 0.004, 19.96]); return [p.x, p.y];""")  # S01's position (tests/ui/seed.py)
    from selenium.webdriver.common.action_chains import ActionChains

    box = _css(driver, "#map")
    ActionChains(driver).move_to_element_with_offset(box, int(x - box.size["width"] / 2),
                                                     int(y - box.size["height"] / 2)).click().perform()
    link = _wait(driver, lambda d: _css(d, ".leaflet-popup-content a"))
    assert link.get_attribute("href").endswith("/ui/service-points/S01")


def test_gateways_page_and_language_switch(logged_in: Any, ui_server: str,
                                          screenshot: Callable[[str], list[Path]]) -> None:
    driver = logged_in
    driver.get(f"{ui_server}/ui/gateways")
    _wait(driver, lambda d: "gw-krakow-2" in _css(d, "#gw").text)
    assert "Koncentratory" in _css(driver, "h1").text
    screenshot("gateways")
    _css(driver, "#lang").click()
    _wait(driver, lambda d: _css(d, "h1").text == "Gateways")
    assert driver.execute_script("return document.documentElement.lang") == "en"
    driver.get(f"{ui_server}/ui/alerts")  # remembered across pages
    _wait(driver, lambda d: "Acknowledge" in d.page_source or "Opened" in _css(d, "#queue thead").text)
    _css(driver, "#lang").click()
    _wait(driver, lambda d: "Otwarty" in _css(d, "#queue thead").text)


def test_login_page_in_polish_with_the_english_switch(logged_in: Any, ui_server: str) -> None:
    driver = logged_in  # the language choice is the browser's, shared with the other pages
    driver.get(f"{ui_server}/login")
    _wait(driver, lambda d: _css(d, "button[type=submit]").text == "Zaloguj")
    assert driver.execute_script("return document.documentElement.lang") == "pl"
    _css(driver, "#lang").click()
    _wait(driver, lambda d: _css(d, "button[type=submit]").text == "Log in")
    assert _css(driver, "label[for=name]").text == "User name"
    _css(driver, "#lang").click()  # back to Polish for the tests that follow
    _wait(driver, lambda d: _css(d, "button[type=submit]").text == "Zaloguj")


def test_pages_reference_no_external_host(ui_server: str) -> None:
    """Everything the pages load is served by the API itself (intranets are often closed)."""
    pages = ["/", "/ui/map", "/ui/alerts", "/ui/alerts/1", "/ui/service-points/N01", "/ui/gateways", "/login"]
    seen: set[str] = set()
    with httpx.Client(base_url=ui_server, timeout=10) as client:
        for page in pages:
            html = client.get(page)
            assert html.status_code == 200, page
            for ref in re.findall(r'(?:src|href)="([^"]+)"', html.text):
                assert ref.startswith("/"), (page, ref)
                seen.add(ref)
        for ref in sorted(r for r in seen if r.startswith("/ui/static/")):
            body = client.get(ref)
            assert body.status_code == 200, ref
            if ref.endswith(".js") and "/vendor/" not in ref:
                assert not re.search(r"https?://", body.text), ref
        assert client.get("/ui/static/js/../../overview.html").status_code == 404
        assert client.get("/ui/static/docs/redoc/LICENSE").status_code == 404
        assert client.get("/v1/ui/map-data").status_code == 401


def test_alert_queue_sorts_through_the_api(logged_in: Any, ui_server: str,
                                           ui_db: tuple[str, dict[str, int]]) -> None:
    """A header click asks the API for the first page in that order: rows that were not loaded come first."""
    from datetime import UTC, datetime, timedelta

    import psycopg

    driver = logged_in
    now = datetime.now(UTC)
    with psycopg.connect(ui_db[0], autocommit=True) as conn:
        # 55 newer info alerts fill the first page (50) of the default order; one older than everything
        for i in range(55):
            at = now - timedelta(minutes=50 - i % 50, seconds=i)
            conn.execute("INSERT INTO alerts (kind, subject, severity, dedupe_key, evidence, detected_at, opened_at)"
                         " VALUES ('silent', %s, 'info', 'sort', '{}', %s, %s)", (f"sort:{i}", at, at))
        row = conn.execute(
            "INSERT INTO alerts (kind, subject, severity, dedupe_key, evidence, detected_at, opened_at) VALUES "
            "('silent', 'sort:oldest', 'info', 'sort', '{}', %s, %s) RETURNING id",
            (now - timedelta(days=10), now - timedelta(days=10))).fetchone()
        assert row is not None
        oldest = row[0]
    ids = ui_db[1]

    def first_ids(d: Any) -> list[int]:
        return [int(r.get_attribute("data-id")) for r in d.find_elements("css selector", "#queue tbody tr[data-id]")]

    driver.get(f"{ui_server}/ui/alerts")
    _wait(driver, lambda d: len(first_ids(d)) == 50)
    loaded = first_ids(driver)
    assert ids["S02"] not in loaded and oldest not in loaded
    _css(driver, '#queue th[data-sort="severity"]').click()
    _wait(driver, lambda d: first_ids(d)[:1] == [ids["S02"]])  # the one critical alert, from the server
    assert "sort=-severity" in driver.current_url
    assert _css(driver, '#queue th[data-sort="severity"]').get_attribute("aria-sort") == "descending"
    _css(driver, '#queue th[data-sort="opened_at"]').click()  # newest first again, the next click flips it
    _wait(driver, lambda d: first_ids(d) == loaded)
    _css(driver, '#queue th[data-sort="opened_at"]').click()
    _wait(driver, lambda d: first_ids(d)[:1] == [oldest])
    assert _css(driver, '#queue th[data-sort="opened_at"]').get_attribute("aria-sort") == "ascending"
    assert "sort=opened_at" in driver.current_url
    _css(driver, "#more").click()  # "more" follows the sorted keyset
    _wait(driver, lambda d: len(first_ids(d)) == 59)
    rows = first_ids(driver)
    assert len(set(rows)) == 59 and rows[1:4] == sorted(ids.values())  # the seeded three: same time, by id
