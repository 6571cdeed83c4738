"""A headless Chromium driven by selenium (Debian's chromium and chromium-driver)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BINARIES = ("chromium", "chromedriver")


def missing() -> list[str]:
    """The browser binaries not on PATH."""
    return [name for name in BINARIES if shutil.which(name) is None]


def ensure_browser() -> str:
    """Install the browser with scripts/browser when it is missing; '' when ready, else why not."""
    if not missing():
        return ""
    done = subprocess.run(
        [str(ROOT / "scripts" / "browser")], capture_output=True, text=True, check=False
    )
    if missing():
        return f"no {', '.join(missing())} after scripts/browser: {done.stderr[-1500:]}"
    return ""


@contextmanager
def headless_chromium(width: int = 1600, height: int = 1400) -> Iterator[object]:
    """A selenium WebDriver on a headless Chromium, quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
