"""`local.vendors`: the supplier register, checked for overdue or missing security assessments.

Supply-chain security (P7) asks that the providers an AI system depends on, above all the AI
providers themselves, are assessed and re-assessed. Registers are usually a spreadsheet export or a
YAML file kept by hand, so a bad row is reported as a finding, never a crash: the rest of the
register is still evidence. The source file is filed too, so the normalised view can be checked
against what was actually written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

if TYPE_CHECKING:
    from evidentia.collector import Severity

FIELDS = ("name", "service", "ai_provider", "data_shared", "last_assessment", "contract")
TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0", ""}


class RowError(ValueError):
    """A register row that cannot be read as a vendor."""


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise RowError(f"ai_provider {value!r} is not true/false")


def parse_date(value: Any) -> dt.date | None:
    """A date from YAML (already a date) or text (`YYYY-MM-DD`); empty means never assessed."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise RowError(f"last_assessment {value!r} is not a date (YYYY-MM-DD)") from None


def parse_list(value: Any) -> list[str]:
    """`data_shared` as a list: YAML lists as-is, text split on `;`."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    return [str(item).strip() for item in items if str(item).strip()]


def plain(value: Any) -> Any:
    """Make an unknown column JSON-safe (YAML may give dates and naive datetimes)."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def normalise(raw: Mapping[Any, Any], today: dt.date) -> dict[str, Any]:
    """One vendor in the register's normal form; raises `RowError` if the row is unusable."""
    if None in raw:
        raise RowError("the row has more cells than the header has columns")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise RowError("the row has no name")
    assessed = parse_date(raw.get("last_assessment"))
    if assessed is not None and assessed > today:
        raise RowError(f"last_assessment {assessed} is after the collection date {today}")
    vendor: dict[str, Any] = {
        "name": name,
        "service": str(raw.get("service") or "").strip(),
        "ai_provider": parse_bool(raw.get("ai_provider")),
        "data_shared": parse_list(raw.get("data_shared")),
        "last_assessment": assessed,
        "assessment_age_days": None if assessed is None else (today - assessed).days,
        "contract": str(raw.get("contract") or "").strip(),
    }
    other = {str(k): plain(v) for k, v in raw.items() if k not in FIELDS}
    if other:
        vendor["other"] = other
    return vendor


def read_rows(path: Path, content: bytes) -> list[tuple[str, Mapping[Any, Any] | str]]:
    """(where, row) pairs from CSV or YAML; a row that is not a mapping comes back as text."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuntimeError(f"{path} is not UTF-8 text ({exc}); export it as UTF-8") from None
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, text)
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuntimeError(f"{path} is not valid YAML: {exc}") from None
    if isinstance(doc, dict) and "vendors" in doc:
        doc = doc["vendors"]
    if not isinstance(doc, list):
        raise RuntimeError(f"{path}: expected a list of vendors (or a 'vendors:' list)")
    return [(f"entry {i}", row if isinstance(row, dict) else repr(row)) for i, row in enumerate(doc, 1)]


def _csv_rows(path: Path, text: str) -> list[tuple[str, Mapping[Any, Any] | str]]:
    """Rows keyed by header; each is named by the line it ends on, as a spreadsheet shows it."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if "name" not in (reader.fieldnames or []):
            raise RuntimeError(f"{path}: the CSV header has no 'name' column: {reader.fieldnames}")
        return [(f"line {reader.line_num}", row) for row in reader]
    except csv.Error as exc:
        raise RuntimeError(f"{path} is not readable as CSV: {exc}") from None


def assess(vendor: Mapping[str, Any], max_age: int) -> Finding | None:
    """The finding for a vendor whose assessment is missing or older than `max_age` days."""
    severity: Severity = "high" if vendor["ai_provider"] else "medium"
    name, age = vendor["name"], vendor["assessment_age_days"]
    if age is None:
        return Finding("assessment-missing", f"{name} has never been assessed", severity, subject=name)
    if age > max_age:
        return Finding(
            "assessment-overdue",
            f"{name} was last assessed {age} days ago ({vendor['last_assessment']}), "
            f"over the {max_age}-day limit",
            severity,
            subject=name,
        )
    return None


def check_rows(
    rows: list[tuple[str, Mapping[Any, Any] | str]], today: dt.date, max_age: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]], list[Finding]]:
    """Normalise every row: (vendors, invalid rows, findings); one bad row spoils nothing else."""
    vendors: list[dict[str, Any]] = []
    invalid: list[dict[str, str]] = []
    findings: list[Finding] = []
    for where, row in rows:
        try:
            if isinstance(row, str):
                raise RowError(f"expected a mapping of fields, got {row}")
            vendor = normalise(row, today)
        except RowError as exc:
            invalid.append({"row": where, "error": str(exc)})
            findings.append(Finding("invalid-row", f"{where}: {exc}", "medium", subject=where))
            continue
        vendors.append(vendor)
        finding = assess(vendor, max_age)
        if finding is not None:
            findings.append(finding)
    return vendors, invalid, findings


class VendorsCollector(Collector):
    name = "local.vendors"
    version = "1"
    description = (
        "Vendor register (YAML or CSV): normalised, with findings for missing or overdue "
        "security assessments (high for AI providers); the source file is filed as well."
    )
    principles = ("P7",)
    kind = "snapshot"
    permissions = ("read access to the vendor register file",)
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "path": {
                "type": "string",
                "minLength": 1,
                "default": "vendors.yaml",
                "description": "The register: a YAML list (or 'vendors:' list) or a CSV with a "
                "header, with columns " + ", ".join(FIELDS) + ".",
            },
            "max_assessment_age": {
                "type": "integer",
                "minimum": 1,
                "default": 365,
                "description": "Days after which a vendor's last assessment is overdue.",
            },
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        path = ctx.path(ctx.params.get("path", "vendors.yaml"))
        max_age = int(ctx.params.get("max_assessment_age", 365))
        ctx.record_call(f"read {path}")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise RuntimeError(f"cannot read the vendor register {path}: {exc}") from None
        today = ctx.now.astimezone(dt.timezone.utc).date()
        vendors, invalid, findings = check_rows(read_rows(path, content), today, max_age)
        yield Artefact.json(
            "vendor-register",
            {
                "as_of": today,
                "max_assessment_age": max_age,
                "vendors": vendors,
                "invalid_rows": invalid,
            },
            source=str(path),
            findings=findings,
            summary={
                "vendors": len(vendors),
                "ai_providers": sum(1 for v in vendors if v["ai_provider"]),
                "overdue": sum(1 for f in findings if f.code == "assessment-overdue"),
                "missing": sum(1 for f in findings if f.code == "assessment-missing"),
                "invalid_rows": len(invalid),
            },
        )
        yield Artefact(
            name="vendor-register-source",
            content=content,
            media_type="text/csv" if path.suffix.lower() == ".csv" else "application/yaml",
            extension=path.suffix.lstrip(".") or "txt",
            source=str(path),
            summary={"size": len(content)},
        )
