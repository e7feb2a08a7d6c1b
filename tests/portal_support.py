"""A real evidence store for the portal tests, collected through the CLI by real collectors.

local.files and local.vendors read files written here; test.echo files snapshots with findings and
test.events an event population. One vendor's name is an HTML injection attempt, so its finding
("... has never been assessed") carries markup the portal must show as text.
"""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, write_config

INJECTION = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
POLICY_TEXT = "# AI security policy\n\nEvery model is inventoried and signed before release.\n"


def build_store(base: Path) -> Path:
    """Collect into `base / "evidence"` and return the store; fails loudly if the run did not succeed."""
    (base / "policies").mkdir(parents=True, exist_ok=True)
    (base / "policies" / "ai-security-policy.md").write_text(POLICY_TEXT, encoding="utf-8")
    (base / "vendors.yaml").write_text(
        "- name: Nimbus Language Models Ltd\n"
        "  service: hosted LLM API\n"
        "  ai_provider: true\n"
        "  last_assessment: 2020-01-15\n"
        f"- name: {json.dumps(INJECTION)}\n"
        "  service: a vendor whose name is markup\n"
        "  ai_provider: false\n",
        encoding="utf-8",
    )
    config = write_config(
        base,
        """
        store: evidence
        collectors:
          - id: policies
            plugin: local.files
            params:
              documents:
                - {glob: "policies/*.md", principles: [P1, P2]}
          - id: vendors
            plugin: local.vendors
            params: {path: vendors.yaml}
          - id: echo
            plugin: test.echo
            params: {count: 3, content: portal}
          - id: changes
            plugin: test.events
        """,
    )
    done = run_cli("collect", "-c", str(config), "--json", cwd=base)
    assert done.returncode == 0, done.stdout + done.stderr
    return base / "evidence"
