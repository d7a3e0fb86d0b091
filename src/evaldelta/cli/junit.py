"""``gate --junit FILE``: the gate as a JUnit XML report, one test case per key ×
comparison, failed when the gate fails it, for CI dashboards that read test reports."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from evaldelta.cli.comparison import Comparison
from evaldelta.cli.report import Thresholds, row_failures


def junit_xml(result: Comparison, limits: Thresholds) -> ET.ElementTree[ET.Element]:
    """One ``testsuite`` (the dataset against the baseline) of one ``testcase`` per key ×
    comparison, each with a ``failure`` per reason the gate fails it; a key the server
    could not compute is a failed case of its own."""
    suite = ET.Element("testsuite", name=f"evaldelta gate: {result.dataset}")
    classname = f"evaldelta.{result.dataset}.{result.baseline}"
    failures = 0
    for row in result.rows:
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=f"{row.key} in {row.comparison}"
        )
        reasons = row_failures(row, limits)
        for reason in reasons:
            ET.SubElement(case, "failure", message=reason, type="gate").text = reason
        failures += bool(reasons)
        ET.SubElement(case, "system-out").text = (
            f"improved {row.n_improved}, regressed {row.n_regressed}, unchanged "
            f"{row.n_unchanged}, paired {row.n_paired}, mean delta {row.mean_delta}, "
            f"Holm-adjusted p {row.p_holm}, verdict {row.verdict}"
        )
    for error in result.errors:
        message = f"could not be computed ({error['error']})"
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=", ".join(error["feedback_keys"])
        )
        ET.SubElement(case, "failure", message=message, type="error").text = message
        failures += 1
    suite.set("tests", str(len(result.rows) + len(result.errors)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    root = ET.Element("testsuites", tests=suite.get("tests", "0"), failures=str(failures))
    root.append(suite)
    return ET.ElementTree(root)


def write_junit(result: Comparison, limits: Thresholds, path: Path) -> None:
    tree = junit_xml(result, limits)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
