"""The dashboard in headless Chromium (Debian's, driven by Selenium): partition from the
page and see the picture and the CLI agree; partition from the CLI and see the page
follow without a reload. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api.conftest import Served

pytestmark = pytest.mark.docker

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        reason = "Debian's chromium and chromium-driver are not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1250")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(what: str, check: Callable[[], object], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def texts(driver: Any, selector: str) -> list[str]:
    """Texts of the matching elements, read in one go (the page redraws under us)."""
    found = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", selector
    )
    return [str(t) for t in found]


def cut_pairs(driver: Any) -> set[str]:
    found = driver.execute_script(
        "return [...document.querySelectorAll('#topology .cut')].map(e => e.dataset.pair)"
    )
    return {str(p) for p in found}


def test_partition_from_the_page_and_from_the_cli(browser: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    browser.get(served.dashboard_url)
    wait_for("the event stream", lambda: texts(browser, "#live") == ["live"])
    wait_for("three services drawn", lambda: len(texts(browser, "#topology .service")) == 3)
    assert "token" not in browser.current_url  # the page hid it from the address bar
    assert cut_pairs(browser) == set()
    page = browser.execute_script("return window.squallPageId")

    # from the page
    box = browser.find_element(By.ID, "partition-groups")
    box.clear()
    box.send_keys("a b,c")
    browser.find_element(By.ID, "btn-partition").click()
    wait_for("the cut drawn", lambda: cut_pairs(browser) == {"a|b", "a|c"})
    assert texts(browser, "#partition-text") == ["partition (groups): a | b,c"]
    assert texts(browser, "#message") == ["partition (groups): a | b,c"]
    cli = served.cli_status()
    assert cli["partition"]["groups"] == [["a"], ["b", "c"]]
    reach = {s["service"]: s["faults"]["cannot_reach"] for s in cli["services"]}
    assert reach == {"a": ["b", "c"], "b": ["a"], "c": ["a"]}
    browser.save_screenshot(str(ARTIFACTS / "dashboard-partition-from-page.png"))

    # from the CLI: the page follows by itself
    served.squall("partition", "c", "a,b")
    # b and c share no network: the partition separates them, but there is no link to cut
    wait_for("the CLI's cut drawn", lambda: cut_pairs(browser) == {"a|c"})
    assert browser.execute_script("return window.squallPageId") == page  # no reload
    wait_for(
        "the CLI's change in the timeline",
        lambda: any("cli" in li and "partition" in li for li in texts(browser, "#events li")),
    )
    served.squall("slow", "b")
    wait_for(
        "the shape drawn on b",
        lambda: any(
            "slow" in t for t in texts(browser, '#topology [data-service="b"] .node-shape')
        ),
    )
    browser.find_element(By.ID, "btn-probe").click()
    wait_for(
        "the probe's heat map",
        lambda: "cut" in "".join(texts(browser, "#heatmap")),
        timeout=30,
    )
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    # join from the page
    browser.find_element(By.ID, "btn-join").click()
    wait_for("the cuts gone", lambda: cut_pairs(browser) == set())
    assert served.cli_status()["partition"]["cuts"] == []
