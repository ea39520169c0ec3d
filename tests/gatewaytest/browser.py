"""Headless Chromium for portal tests: Debian's chromium driven by Playwright, axe-core on every
page, screenshots kept as test artefacts.

Nothing is downloaded here: the browser is the system's (`CHROMIUM`, default /usr/bin/chromium)
and axe-core comes from npm (`.ci/run` installs it into .ci/node_modules; `AXE_CORE_JS` names
another copy). Without them the tests are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE_CORE_JS = Path(
    os.environ.get("AXE_CORE_JS", REPO / ".ci" / "node_modules" / "axe-core" / "axe.min.js")
)
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPO / "test-artifacts"))
# What fails a page: WCAG problems that keep people from using it, not advice.
BLOCKING_IMPACTS = ("serious", "critical")

_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
  }));
}"""


def require_browser() -> None:
    """Skip (fail in CI) unless Playwright, Chromium and axe-core are all here."""
    missing = [
        what
        for what, present in (
            ("the playwright Python package", importlib.util.find_spec("playwright") is not None),
            (f"chromium at {CHROMIUM}", CHROMIUM.exists()),
            (f"axe-core at {AXE_CORE_JS} (npm install axe-core@4)", AXE_CORE_JS.exists()),
        )
        if not present
    ]
    if not missing:
        return
    reason = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class PageChecks:
    """Checks each page a test visits: axe-core, CSP reports, and a screenshot of it."""

    screenshots: Path
    console_errors: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def check(self, page: Any, name: str) -> None:
        """Screenshot `page` as NAME.png and fail on serious or critical axe violations."""
        page.wait_for_load_state("load")
        self.screenshots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)
        violations = [
            v for v in page.evaluate(_AXE_RUN) if v["impact"] in BLOCKING_IMPACTS
        ]
        assert violations == [], f"{name} ({page.url}): {violations}"
        # A Content-Security-Policy refusal means the page wanted something inline.
        assert not [e for e in self.console_errors if "Content Security Policy" in e], (
            name,
            self.console_errors,
        )
        self.checked.append(name)
