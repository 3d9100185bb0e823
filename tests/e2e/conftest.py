"""Shared Playwright fixtures: one headless Chromium per test session, a fresh page per test.

Browser tests drive `live_server` (a real HTTP server in a thread), so they need committed data:
mark them `@pytest.mark.django_db(transaction=True)` and `@pytest.mark.browser`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Module-scoped rather than session-scoped on purpose: while sync Playwright runs, its event loop
    is "running" in this thread, so Django refuses ORM calls unless DJANGO_ALLOW_ASYNC_UNSAFE is set.
    Setting it only while a browser module runs keeps every other test (and the subprocesses some of
    them start, e.g. `check --deploy`) free of that override.
    """
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (Debian package chromium; `python3 dev.py test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must never pass by skipping the browser flows
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


# Chromium fires `securitypolicyviolation` for every script, handler, style or image the CSP blocks; this
# listener, added before any page script runs, turns each into a console error that the fixtures collect.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') +
  ' at ' + e.sourceFile + ':' + e.lineNumber +
  (e.target && e.target.outerHTML ? ' on ' + e.target.outerHTML.slice(0, 160) : '')));
"""


def watch_csp(context, violations: list[str]) -> None:
    context.add_init_script(CSP_LISTENER)

    def collect(message) -> None:
        if message.text.startswith("CSP violation"):
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    context.on("console", collect)


@pytest.fixture
def csp_violations() -> Iterator[list[str]]:
    """What the strict Content-Security-Policy blocked in any page of the test (`page`, `phone_page`): a
    browser test fails if the app's own markup or scripts needed something the policy forbids."""
    violations: list[str] = []
    yield violations
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def page(browser, live_server, csp_violations) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    watch_csp(context, csp_violations)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def phone_page(browser, live_server, csp_violations) -> Iterator:
    """A page on a phone: 390x844 CSS pixels, touch, the mobile viewport meta honoured (iPhone-sized)."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(15_000)
    watch_csp(context, csp_violations)
    tab = context.new_page()
    yield tab
    context.close()
