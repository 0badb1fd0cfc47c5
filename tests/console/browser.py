"""Helpers for driving the console in Chromium: login, guards against script execution, axe."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: axe-core impacts that fail a page
BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class Guard:
    """Records every dialog (alert/confirm/prompt), page error and CSP report on a page.

    Hostile model data uses ``alert(...)``: a dialog means injected script ran; a CSP
    violation in the console means markup was injected (and only the CSP stopped it)."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> Any:
        def on_dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        def on_console(msg: Any) -> None:
            text = msg.text
            if "Content Security Policy" in text or "Content-Security-Policy" in text:
                self.csp.append(text)

        page.on("dialog", on_dialog)
        page.on("console", on_console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"script ran: dialogs {self.dialogs}"
        assert self.csp == [], f"markup was injected (blocked by CSP): {self.csp}"
        assert self.errors == [], f"page errors: {self.errors}"


def login(page: Any, base: str, token: str) -> None:
    page.goto(base + "/console/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/inventory")


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page (WCAG 2.x A/AA rules)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
                resultTypes: ['violations'],
            });
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in BLOCKING_IMPACTS]


def check_page(page: Any, axe_source: str, shots: Path | None, name: str) -> None:
    """Accessibility of the page as it is now (and a full-page screenshot when asked)."""
    bad = axe_violations(page, axe_source)
    assert bad == [], f"axe on {name} ({page.url}): {bad}"
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)
