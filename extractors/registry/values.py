"""Typed values of a registry row: dates, numbers, emails and choices, and the landed record."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from extractors.registry.schemas import Column, FileSchema, header_key
from extractors.streams import INVALID_REASON_FIELD

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
