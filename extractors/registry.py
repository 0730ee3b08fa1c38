"""Registry files: CSV and XLSX exports of the programme's own registers, dropped in an inbox folder.

Which stream a file feeds is decided by its name (case-insensitive prefix, see `FILE_PREFIXES`):

* `experts*` or `expert_pool*` -> experts (expert pool roster, key `expert_id`)
* `stakeholders*` -> stakeholders (stakeholder registry, key `stakeholder_id`)
* `mapped_projects*` -> mapped_projects (mapped EU projects, key `project_id`)
* `assistance*` or `rapid_assistance*` -> assistance_requests (rapid-assistance log, key `request_id`)

with the extension `.csv`, `.tsv`, `.txt` or `.xlsx`. Other files (and hidden files, Excel lock
files `~$*`, the `rejected/` folder) are ignored. Files are read in name order, so an export named
with its date (`experts_2025-06-30.csv`) lands after the older ones and its rows win in staging.

Each file lands once, recognised by its sha256 (a renamed copy is the same file). A CSV is decoded
as UTF-8 (with or without BOM), else as Windows-1252; its delimiter (`,` `;` or tab) is sniffed and
checked against the declared columns. An XLSX is read from its first sheet (Excel dates become ISO
dates). The first non-empty row is the header; empty rows are skipped.

A file that cannot be read as a table with the declared columns (see `extractors.registry_schemas`)
is rejected whole: reported in `context.rejected` and moved to `<inbox>/rejected/` beside a
`<name>.reason.txt`. A row that breaks the schema is landed with `_quarantine_reason`
("row N: ...", N as a spreadsheet shows it, header = row 1) and the loader quarantines it. Every
landed record carries `_file`, `_file_sha256` and `_row`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from extractors.config import RegistrySource
from extractors.http import SourceError
from extractors.privacy import FieldRule
from extractors.registry_schemas import SCHEMAS, Column, FileSchema, header_key
from extractors.streams import INVALID_REASON_FIELD, FetchContext, Page, Stream

SYSTEM = "registry"
VERSION = "registry-1"

FILE_PREFIXES: dict[str, tuple[str, ...]] = {
    "experts": ("experts", "expert_pool"),
    "stakeholders": ("stakeholders",),
    "mapped_projects": ("mapped_projects",),
    "assistance_requests": ("assistance", "rapid_assistance"),
}
CSV_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
XLSX_EXTENSIONS = frozenset({".xlsx"})
DELIMITERS = (",", ";", "\t")
REJECTED_FOLDER = "rejected"
PAGE_SIZE = 500

log = logging.getLogger(__name__)


class BadFile(Exception):
    """The file as a whole cannot be landed; the message says why, for the person who dropped it."""


def make_client(source_name: str, source: RegistrySource) -> None:
    return None


def stream_of(file_name: str) -> str | None:
    """The stream a file feeds, by its name; None for files that are not registry exports."""
    name = file_name.lower()
    if name.startswith((".", "~$")):
        return None
    suffix = Path(name).suffix
    if suffix not in CSV_EXTENSIONS | XLSX_EXTENSIONS and suffix != ".xls":
        return None
    for stream, prefixes in FILE_PREFIXES.items():
        if name.startswith(prefixes):
            return stream
    return None


def inbox_files(inbox: Path, stream: str) -> list[Path]:
    """The stream's files directly in the inbox, in name order."""
    if not inbox.is_dir():
        raise SourceError(f"registry inbox {inbox} does not exist or is not a folder")
    files = [p for p in inbox.iterdir() if p.is_file() and stream_of(p.name) == stream]
    return sorted(files, key=lambda p: (p.name.lower(), p.name))


# --- reading a file into rows -------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding: UTF-8 (BOM or not) if it decodes strictly, else Windows-1252."""
    if b"\x00" in data:
        raise BadFile("binary content (NUL bytes): not a UTF-8 or Windows-1252 text file")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise BadFile(f"undecodable bytes at offset {exc.start}: neither UTF-8 nor Windows-1252") from None


def _is_empty(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _numbered(rows: list[list[Any]]) -> list[tuple[int, list[Any]]]:
    """(spreadsheet row number, cells) for the non-empty rows; the first one is the header."""
    return [(n, cells) for n, cells in enumerate(rows, start=1) if not _is_empty(cells)]


def _header_problem(header: list[Any], schema: FileSchema) -> str | None:
    try:
        mapping = map_header(header, schema)
    except BadFile as exc:
        return str(exc)
    missing = [c.name for c in schema.required if c.name not in mapping]
    if missing:
        found = ", ".join(repr(str(h).strip()) for h in header if h is not None and str(h).strip())
        return f"missing required column(s): {', '.join(missing)} (found: {found or 'none'})"
    return None


def read_csv_rows(data: bytes, schema: FileSchema) -> list[tuple[int, list[Any]]]:
    text, _ = decode(data)
    if not text.strip():
        raise BadFile("the file is empty")
    try:
        sniffed = csv.Sniffer().sniff(text[:65536], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    by_count = sorted(DELIMITERS, key=lambda d: -first_line.count(d))
    candidates = list(dict.fromkeys([*([sniffed] if sniffed else []), *by_count]))
    problems = []
    for delimiter in candidates:
        rows = _numbered(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))
        problem = _header_problem(rows[0][1], schema) if rows else "the file is empty"
        if problem is None:
            return rows
        problems.append(problem)
    raise BadFile(problems[0])


def read_xlsx_rows(path: Path) -> list[tuple[int, list[Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise BadFile(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        if not workbook.worksheets:
            raise BadFile("the workbook has no sheet")
        sheet = workbook.worksheets[0]
        return _numbered([list(row) for row in sheet.iter_rows(values_only=True)])
    finally:
        workbook.close()


def map_header(header: list[Any], schema: FileSchema) -> dict[str, int]:
    """Declared column name -> cell index. An exact name beats an alias; two equal claims fail."""
    mapping: dict[str, int] = {}
    exact: dict[str, bool] = {}
    for index, cell in enumerate(header):
        key = header_key(cell)
        if not key:
            continue
        for column in schema.columns:
            if key not in column.header_keys:
                continue
            is_exact = key == header_key(column.name)
            if column.name in mapping:
                if exact[column.name] == is_exact:
                    first = header[mapping[column.name]]
                    raise BadFile(
                        f"columns {str(first).strip()!r} and {str(cell).strip()!r} both read as {column.name}"
                    )
                if not is_exact:
                    continue
            mapping[column.name] = index
            exact[column.name] = is_exact
    return mapping


def read_rows(
    path: Path, data: bytes, schema: FileSchema
) -> tuple[dict[str, int], int, list[tuple[int, list[Any]]]]:
    """Column mapping, header width and numbered data rows; BadFile if it is not a usable table."""
    suffix = path.suffix.lower()
    if suffix in XLSX_EXTENSIONS:
        if not data:
            raise BadFile("the file is empty")
        rows = read_xlsx_rows(path)
    elif suffix in CSV_EXTENSIONS:
        rows = read_csv_rows(data, schema)
    else:
        raise BadFile(f"unsupported file type {suffix!r}: export the sheet as .xlsx or .csv")
    if not rows:
        raise BadFile("the file is empty")
    _, header = rows[0]
    if problem := _header_problem(header, schema):
        raise BadFile(problem)
    if len(rows) == 1:
        raise BadFile("no data rows below the header")
    width = max(i for i, cell in enumerate(header) if header_key(cell)) + 1
    return map_header(header, schema), width, rows[1:]


# --- values -------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")
_EXCEL_SERIALS = (20_000, 80_000)  # 1954 .. 2119: a plain number in a date column


class BadValue(Exception):
    pass


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def _describe(column: Column, value: Any) -> str:
    return column.name if column.personal else f"{column.name} {_as_text(value)!r}"


def parse_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _EXCEL_SERIALS[0] <= value <= _EXCEL_SERIALS[1]:
            from openpyxl.utils.datetime import from_excel

            return from_excel(value).date().isoformat()
        raise BadValue
    text = str(value).strip()
    text = re.split(r"[T ]\d{1,2}:\d{2}", text, maxsplit=1)[0].strip()  # a time part is dropped
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise BadValue


def parse_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise BadValue
    if isinstance(value, int | float):
        number = Decimal(str(value))
    else:
        text = re.sub(r"(?i)eur|€|\s|'|\u00a0|\u202f", "", str(value))
        if "," in text and "." in text:  # the later one is the decimal separator
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:  # 1,234,567 groups thousands; 1234,5 is a decimal comma
            thousands = re.fullmatch(r"-?\d{1,3}(,\d{3})+", text)
            text = text.replace(",", "") if thousands else text.replace(",", ".")
        elif re.fullmatch(r"-?\d{1,3}(\.\d{3}){2,}", text):  # 1.234.567
            text = text.replace(".", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise BadValue from None
    if not number.is_finite():
        raise BadValue
    return int(number) if number == number.to_integral_value() else float(number)


def convert(column: Column, value: Any) -> Any:
    """The normalised value; BadValue (with a message) when it breaks the column's declaration."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if column.nullable:
            return [] if column.kind == "list" else None
        raise BadValue(f"{column.name} is empty")
    try:
        if column.kind == "date":
            return parse_date(value)
        if column.kind == "number":
            return parse_number(value)
    except BadValue:
        expected = "a date (YYYY-MM-DD or DD/MM/YYYY)" if column.kind == "date" else "a number"
        raise BadValue(f"{_describe(column, value)} is not {expected}") from None
    text = _as_text(value)
    if column.kind == "email":
        if not _EMAIL.match(text):
            raise BadValue(f"{column.name} is not an email address")
        return text
    lookup = column.choice_lookup() if column.choices else None
    if column.kind == "list":
        items = [item.strip() for item in re.split(r"[;\n]", text) if item.strip()]
        if lookup is not None:
            unknown = [item for item in items if header_key(item) not in lookup]
            if unknown:
                raise BadValue(
                    f"{column.name} {', '.join(map(repr, unknown))} not among: {', '.join(column.choices)}"
                )
            items = list(dict.fromkeys(lookup[header_key(item)] for item in items))
        return items
    if lookup is not None:
        if header_key(text) not in lookup:
            raise BadValue(f"{_describe(column, text)} is not one of: {', '.join(column.choices)}")
        return lookup[header_key(text)]
    return " ".join(text.split())


def _cross_problems(schema: FileSchema, record: dict[str, Any]) -> list[str]:
    problems = []
    for earlier, later in schema.date_order:
        first, second = record.get(earlier), record.get(later)
        if first and second and second < first:
            problems.append(f"{later} {second} is before {earlier} {first}")
    if schema.stream == "assistance_requests":
        if record.get("status") == "answered" and not record.get("answered_date"):
            problems.append("status is answered but answered_date is empty")
        if record.get("status") == "open" and record.get("answered_date"):
            problems.append("status is open but answered_date is set")
    return problems


def build_record(
    schema: FileSchema, mapping: dict[str, int], width: int, row_number: int, cells: list[Any]
) -> dict[str, Any]:
    """One landed record (declared columns only), with `_quarantine_reason` if the row is bad."""
    record: dict[str, Any] = {}
    problems: list[str] = []
    for column in schema.columns:
        index = mapping.get(column.name)
        raw = cells[index] if index is not None and index < len(cells) else None
        if index is None:  # an optional column the file does not have
            record[column.name] = [] if column.kind == "list" else None
            continue
        try:
            record[column.name] = convert(column, raw)
        except BadValue as exc:
            problems.append(str(exc))
            record[column.name] = None if raw is None else _as_text(raw)
    extra = [c for c in cells[width:] if c is not None and str(c).strip()]
    if extra:
        problems.append(f"{len(extra)} value(s) beyond the header's {width} columns")
    if not problems:
        problems = _cross_problems(schema, record)
    if problems:
        record[INVALID_REASON_FIELD] = f"row {row_number}: " + "; ".join(problems)
    return record


# --- files --------------------------------------------------------------------------------------


def reject(path: Path, reason: str, context: FetchContext) -> None:
    """Report the file and move it to <inbox>/rejected/ with a <name>.reason.txt beside it."""
    folder = path.parent / REJECTED_FOLDER
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    (folder / f"{target.name}.reason.txt").write_text(f"{path.name}: {reason}\n", encoding="utf-8")
    context.rejected.append((path.name, reason))
    log.warning("registry file %s rejected: %s", path.name, reason)


def file_records(path: Path, data: bytes, schema: FileSchema) -> Iterator[dict[str, Any]]:
    """Every data row of one file as a landed record; BadFile before the first one if unusable."""
    digest = hashlib.sha256(data).hexdigest()
    mapping, width, rows = read_rows(path, data, schema)
    first_row: dict[str, int] = {}

    def records() -> Iterator[dict[str, Any]]:
        for row_number, cells in rows:
            record = build_record(schema, mapping, width, row_number, cells)
            key = record.get(schema.key)
            if INVALID_REASON_FIELD not in record and key is not None:
                if key in first_row:
                    record[INVALID_REASON_FIELD] = (
                        f"row {row_number}: {schema.key} {key!r} already on row {first_row[key]}"
                    )
                else:
                    first_row[key] = row_number
            record.update({"_file": path.name, "_file_sha256": digest, "_row": row_number})
            yield record

    return records()


def _fetcher(stream: str):
    schema = SCHEMAS[stream]

    def fetch(client: None, source: RegistrySource, context: FetchContext) -> Iterator[Page]:
        landed_now: set[str] = set()
        for path in inbox_files(Path(source.inbox), stream):
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in context.seen_files or digest in landed_now:
                log.info("registry file %s already landed (sha256 %s)", path.name, digest[:12])
                continue
            try:
                records = file_records(path, data, schema)
            except BadFile as exc:
                reject(path, str(exc), context)
                continue
            landed_now.add(digest)
            page: Page = []
            for record in records:
                page.append(record)
                if len(page) >= PAGE_SIZE:
                    yield page
                    page = []
            if page:
                yield page

    return fetch


def _stream(name: str, rules: tuple[FieldRule, ...] = ()) -> Stream:
    return Stream(
        name,
        (SCHEMAS[name].key,),
        None,
        _fetcher(name),
        rules,
        source_file_field="_file_sha256",
    )


STREAMS = {
    "experts": _stream(
        "experts", (FieldRule("full_name", "pseudonymise"), FieldRule("email", "pseudonymise"))
    ),
    "stakeholders": _stream(
        "stakeholders",
        (FieldRule("contact_name", "pseudonymise"), FieldRule("contact_email", "pseudonymise")),
    ),
    "mapped_projects": _stream("mapped_projects"),
    "assistance_requests": _stream("assistance_requests"),
}
