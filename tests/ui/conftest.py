"""Browser-test fixtures: a real headless Chromium driven by Selenium (Debian's ``chromium`` and
``chromium-driver``; no Selenium Manager download), one seeded database and one real ``odczyt serve`` per
module, and a logged-in dispatcher. Screenshots go to ``test-artifacts/screenshots/`` (git-ignored).

Without Chromium the tests are skipped — unless ``CI`` is set: under CI a missing browser is a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api.serving import run_server
from tests.conftest import _create_db, _drop_db
from tests.ui.seed import PASSWORD, USER, seed

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", "/usr/bin/chromedriver"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}

pytestmark = pytest.mark.services


def _need_browser() -> None:
    if Path(CHROMIUM).exists() and Path(DRIVER).exists():
        return
    message = f"headless Chromium not installed ({CHROMIUM}, {DRIVER}): apt-get install chromium chromium-driver"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def ui_db(pg_server, migrated_template: str) -> Iterator[tuple[str, dict[str, int]]]:  # type: ignore[no-untyped-def]
    """A migrated database of the module's own, seeded with the town of ``tests/ui/seed.py``."""
    name = _create_db(pg_server, template=migrated_template)
    url = pg_server.url_for(name)
    try:
        yield url, seed(url)
    finally:
        _drop_db(pg_server, name)


@pytest.fixture(scope="module")
def ui_server(ui_db: tuple[str, dict[str, int]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``odczyt serve`` over the seeded database: plain HTTP cookies, no base map tiles (offline)."""
    env = {"ODCZYT_API__COOKIE_SECURE": "false", "ODCZYT_API__MAP_BASE": "none"}
    with run_server(ui_db[0], tmp_path_factory.mktemp("ui-serve"), env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (1440×900) through /usr/bin/chromedriver."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1440,900", "--lang=pl-PL", "--disable-extensions", "--no-first-run"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def logged_in(browser, ui_server: str):  # type: ignore[no-untyped-def]
    """The browser logged in as the seeded dispatcher (on the overview page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{ui_server}/login")
    browser.find_element(By.ID, "name").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.url_to_be(f"{ui_server}/"))
    return browser


@pytest.fixture
def screenshot(browser) -> Callable[[str], list[Path]]:  # type: ignore[no-untyped-def]
    """``screenshot(name)`` saves the current page at 1440×900 and 390×844; returns the files."""
    import time

    def shoot(name: str) -> list[Path]:
        SHOTS.mkdir(parents=True, exist_ok=True)
        out = []
        for label, (w, h) in SIZES.items():
            browser.set_window_size(w, h)
            time.sleep(0.4)  # let the page reflow (the map and charts size to their box)
            path = SHOTS / f"{name}-{label}-{w}x{h}.png"
            browser.save_screenshot(str(path))
            out.append(path)
        browser.set_window_size(*SIZES["desktop"])
        return out

    return shoot
