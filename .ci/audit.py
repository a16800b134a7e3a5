"""Audit the installed dependencies with pip-audit; fail on a known vulnerability that has a fix.

Run: `make audit` (CI runs it after the tests). pip-audit asks the package index's vulnerability
data for every installed distribution. A dependency the index has no record of is counted as not
audited and reported, not failed: a mirror without vulnerability data would otherwise fail every
run. A vulnerability with no fixed release yet is reported but does not fail (nothing to upgrade to).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def verdict(report: dict[str, Any]) -> tuple[list[str], list[str], int, int]:
    """(fixable findings, unfixable findings, audited count, not-audited count) of a pip-audit JSON report."""
    fixable, unfixable, audited, skipped = [], [], 0, 0
    for dep in report.get("dependencies", []):
        if "skip_reason" in dep:
            skipped += 1
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            line = f"{dep['name']} {dep.get('version', '?')}: {vuln['id']}"
            if vuln.get("fix_versions"):
                fixable.append(f"{line} (fixed in {', '.join(vuln['fix_versions'])})")
            else:
                unfixable.append(f"{line} (no fix released)")
    return fixable, unfixable, audited, skipped


def main() -> int:
    proc = subprocess.run([sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off",
                           "--skip-editable"], capture_output=True, text=True, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit gave no report (exit {proc.returncode}): "
              f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}", file=sys.stderr)
        return 2
    fixable, unfixable, audited, skipped = verdict(report)
    for line in unfixable:
        print(f"audit: known vulnerability without a fix: {line}")
    for line in fixable:
        print(f"audit: FIX AVAILABLE: {line}")
    print(f"audit: {audited} dependencies audited, {skipped} not audited (the index has no vulnerability data for "
          f"them), {len(fixable)} fixable and {len(unfixable)} unfixable known vulnerabilities")
    return 1 if fixable else 0


if __name__ == "__main__":
    sys.exit(main())
