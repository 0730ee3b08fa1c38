"""Registry files: CSV and XLSX exports of the programme's own registers, dropped in an inbox folder.

Which stream a file feeds is decided by its name (case-insensitive prefix, see
`extractors.registry.files.FILE_PREFIXES`):

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

A file that cannot be read as a table with the declared columns (see `extractors.registry.schemas`)
is rejected whole: reported in `context.rejected` and moved to `<inbox>/rejected/` beside a
`<name>.reason.txt`. A row that breaks the schema is landed with `_quarantine_reason`
("row N: ...", N as a spreadsheet shows it, header = row 1) and the loader quarantines it. Every
landed record carries `_file`, `_file_sha256` and `_row`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from extractors.registry.files import BadFile, inbox_files, printable, read_regular_file, read_rows
from extractors.registry.schemas import SCHEMAS, FileSchema
from extractors.registry.values import build_record
from extractors.source_config import RegistrySource
from extractors.streams import INVALID_REASON_FIELD, FetchContext, FieldRule, Page, Stream, fields

SYSTEM = "registry"
VERSION = "registry-1"

REJECTED_FOLDER = "rejected"
PAGE_SIZE = 500

log = logging.getLogger(__name__)


def make_client(source_name: str, source: RegistrySource) -> None:
    return None


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
    (folder / f"{target.name}.reason.txt").write_text(f"{printable(path.name)}: {reason}\n", encoding="utf-8")
    context.rejected.append((path.name, reason))
    log.warning("registry file %s rejected: %s", printable(path.name), reason)


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
            data = read_regular_file(path)
            if data is None:
                log.warning("registry file %s skipped: not a regular file", printable(path.name))
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in context.seen_files or digest in landed_now:
                log.info("registry file %s already landed (sha256 %s)", printable(path.name), digest[:12])
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


def allow_list(schema: FileSchema) -> tuple[FieldRule, ...]:
    """The declared columns: personal ones pseudonymised, text scrubbed, the rest kept as read."""

    def action(column: Any) -> str:
        if column.personal:
            return "pseudonymise"
        return "scrub" if column.kind == "text" and column.name != schema.key else "keep"

    return (
        *(FieldRule(column.name, action(column)) for column in schema.columns),  # type: ignore[arg-type]
        *fields("keep", "_file", "_file_sha256", "_row"),
    )


def _stream(name: str) -> Stream:
    return Stream(
        name,
        (SCHEMAS[name].key,),
        None,
        _fetcher(name),
        allow_list(SCHEMAS[name]),
        source_file_field="_file_sha256",
    )


STREAMS = {
    name: _stream(name) for name in ("experts", "stakeholders", "mapped_projects", "assistance_requests")
}
