"""The HTML leaderboard in a real headless browser (Debian's Chromium through chromedriver)."""

from __future__ import annotations

import os
import shutil

import pytest
from test_leaderboard import fake_run

from bench.leaderboard import build_leaderboard, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"),
]


@pytest.fixture
def browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER, env={**os.environ, "TMPDIR": str(tmp_path)})  # Chromium's scratch folder goes too
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


def test_page_loads_sorts_and_plots_without_console_errors(browser, tmp_path, toy_metrics):
    from selenium.webdriver.common.by import By

    runs = [fake_run(tmp_path / "runs", name, "p-v1", mad, moments)
            for name, mad, moments in (("alpha", 3.0, 10.0), ("beta", 1.0, 30.0), ("gamma", 2.0, 20.0))]  # fmt: skip
    page = tmp_path / "board.html"
    page.write_text(render(build_leaderboard("p-v1", runs), "html"))
    browser.get(page.as_uri())

    def methods() -> list[str]:
        return [row.find_elements(By.TAG_NAME, "td")[0].text for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")]

    assert methods() == ["alpha", "beta", "gamma"]
    header = browser.find_elements(By.CSS_SELECTOR, "thead th")[1]  # test-mad
    header.click()
    assert methods() == ["beta", "gamma", "alpha"]  # ascending
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert methods() == ["alpha", "gamma", "beta"]  # descending
    browser.find_elements(By.CSS_SELECTOR, "thead th")[0].click()
    assert methods() == ["alpha", "beta", "gamma"]  # by name
    plots = browser.find_elements(By.CSS_SELECTOR, "svg.plot")
    assert len(plots) == 2 and all(p.is_displayed() for p in plots)
    bars = plots[0].find_elements(By.TAG_NAME, "rect")
    assert len(bars) == 3 and all(float(b.get_attribute("width")) > 0 for b in bars)
    assert browser.find_element(By.CSS_SELECTOR, "td.best").text == "1.000"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == []
