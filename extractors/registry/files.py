"""Reading one registry file into numbered rows: which stream it feeds, its encoding, delimiter,
sheet and header, checked against the declared schema (extractors.registry.schemas)."""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

from extractors.http import SourceError
from extractors.registry.schemas import FileSchema, header_key

FILE_PREFIXES: dict[str, tuple[str, ...]] = {
    "experts": ("experts", "expert_pool"),
    "stakeholders": ("stakeholders",),
    "mapped_projects": ("mapped_projects",),
    "assistance_requests": ("assistance", "rapid_assistance"),
}
CSV_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
XLSX_EXTENSIONS = frozenset({".xlsx"})
DELIMITERS = (",", ";", "\t")


class BadFile(Exception):
    """The file as a whole cannot be landed; the message says why, for the person who dropped it."""


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


def printable(name: str) -> str:
    """A file name as it may appear in a log or a reason: control characters escaped, quoted."""
    return repr(name)


def is_regular_file(path: Path) -> bool:
    """A regular file itself, not a symlink (to anywhere), a FIFO, a device or a folder."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def inbox_files(inbox: Path, stream: str) -> list[Path]:
    """The stream's regular files directly in the inbox, in name order (symlinks are ignored)."""
    if not inbox.is_dir():
        raise SourceError(f"registry inbox {inbox} does not exist or is not a folder")
    files = [p for p in inbox.iterdir() if stream_of(p.name) == stream and is_regular_file(p)]
    return sorted(files, key=lambda p: (p.name.lower(), p.name))


def read_regular_file(path: Path) -> bytes | None:
    """The file's bytes, or None when it is (or has just become) anything but a regular file.

    O_NOFOLLOW and the fstat of the opened descriptor close the gap between listing the inbox and
    reading it: a file swapped for a symlink or a FIFO meanwhile is not followed and cannot hang."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


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
        # The header is file content: its cells are counted, never quoted (a reason may be logged).
        found = sum(1 for h in header if h is not None and str(h).strip())
        return f"missing required column(s): {', '.join(missing)} (the header has {found} named column(s))"
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
        raise BadFile(f"not a readable XLSX workbook ({type(exc).__name__})") from None
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
                    raise BadFile(
                        f"columns {mapping[column.name] + 1} and {index + 1} both read as {column.name}"
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
