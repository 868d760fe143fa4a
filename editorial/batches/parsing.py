"""Reading an uploaded CSV or JSON file into validated brief rows, or into errors by row and column.

Rows are read one at a time (csv.DictReader over the uploaded file, or one JSON value after another)
and only each row's validated values are kept, so a large file is never held twice. Nothing here
writes: the caller stores the rows only when there is no error at all (a bad file files nothing).
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings

from agents.modelops.templates import variables_problems

# Brief fields a column (or a default with {column} placeholders) fills, with their length caps.
BRIEF_TARGETS = {"title": 200, "goal": 4000, "audience": 200, "tone": 120}
REQUIRED_TARGETS = ("title", "goal", "audience", "tone")
MAX_ERRORS = 200


class FileRefused(Exception):
    """The file as a whole cannot be read (format, encoding, size, too many rows)."""


@dataclass
class RowError:
    row: int  # 1 = the first data row (the line after a CSV's header)
    column: str  # the file's column, or the target when no column feeds it
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Parsed:
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def add_error(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, message))


def normal(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", name.strip().lower())


def auto_mapping(targets: list[str], columns: list[str], given: dict[str, str]) -> dict[str, str]:
    """Each target's column: the one chosen, else the column of the same name (case, spaces and
    dashes aside), else none."""
    by_name = {normal(c): c for c in columns}
    mapping = {}
    for target in targets:
        chosen = (given.get(target) or "").strip()
        if chosen:
            mapping[target] = chosen
        elif normal(target) in by_name:
            mapping[target] = by_name[normal(target)]
    return mapping


def _csv_records(stream: IO[bytes]) -> tuple[list[str], Iterator[dict[str, Any]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
    except UnicodeDecodeError as exc:
        raise FileRefused("The file is not UTF-8 text; save it as UTF-8 CSV.") from exc
    except csv.Error as exc:
        raise FileRefused(f"The CSV header cannot be read: {exc}.") from exc
    if not columns or not any(columns):
        raise FileRefused("The CSV file has no header row; its first line must name the columns.")
    if len(set(columns)) != len(columns):
        raise FileRefused("The CSV header names a column twice; each column needs its own name.")
    reader.fieldnames = columns

    def records() -> Iterator[dict[str, Any]]:
        try:
            for record in reader:
                extra = record.pop(None, None)
                yield {**{k: v for k, v in record.items() if k is not None}, **({None: extra} if extra else {})}
        except UnicodeDecodeError as exc:
            raise FileRefused(f"Line {reader.line_num + 1} is not UTF-8 text; save the file as UTF-8.") from exc
        except csv.Error as exc:
            raise FileRefused(f"Line {reader.line_num}: {exc}.") from exc

    return columns, records()


def _json_records(stream: IO[bytes]) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """A JSON array of objects, or JSON Lines (one object per line). The text is bounded by the upload
    cap; objects are decoded one after another."""
    try:
        text = stream.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused("The file is not UTF-8 text.") from exc
    decoder = json.JSONDecoder()
    pos = len(text) - len(text.lstrip())
    array = text.startswith("[", pos)
    if array:
        pos += 1

    def skip(at: int, *seps: str) -> int:
        while at < len(text) and (text[at].isspace() or text[at] in seps):
            at += 1
        return at

    def records() -> Iterator[dict[str, Any]]:
        nonlocal pos
        number = 0
        while True:
            pos = skip(pos, ",") if array else skip(pos)
            if pos >= len(text) or (array and text[pos] == "]"):
                return
            number += 1
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise FileRefused(f"Item {number} is not valid JSON: {exc.msg} (character {exc.pos}).") from exc
            if not isinstance(value, dict):
                raise FileRefused(f"Item {number} is not an object; each row must be a JSON object.")
            yield {str(k): v for k, v in value.items()}

    first = list(_peek(records()))
    columns = list(first[0].keys()) if first else []
    return columns, _chain(first, records())


def _peek(it: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in it:
        yield item
        return


def _chain(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from first
    yield from rest


def _variable_value(prop: dict[str, Any], raw: Any) -> Any:
    """A CSV cell is text: read it as the variable's type (JSON values keep theirs)."""
    if not isinstance(raw, str):
        return raw
    kind, text = prop.get("type"), raw.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return raw
    if kind == "boolean" and text.lower() in ("true", "false", "yes", "no", "1", "0"):
        return text.lower() in ("true", "yes", "1")
    return text if kind == "string" else raw


def parse_rows(
    stream: IO[bytes], *, fmt: str, schema: dict[str, Any], mapping: dict[str, str], defaults: dict[str, str],
    max_rows: int | None = None,
) -> Parsed:
    """Read and validate every row. `mapping`: target → column (targets are brief fields and the
    template's variables; unmapped variables with the same name as a column are mapped to it).
    `defaults`: brief-field text used when no column feeds it; `{column}` placeholders are filled from
    the row."""
    max_rows = max_rows or settings.AIOS_BULK_MAX_ROWS
    reader = _csv_records if fmt == "csv" else _json_records
    columns, records = reader(stream)
    properties = (schema or {}).get("properties", {})
    required_vars = set((schema or {}).get("required", []))
    mapping = auto_mapping([*BRIEF_TARGETS, *properties], columns, mapping)
    parsed = Parsed(columns=columns)
    for target, column in mapping.items():
        if column not in columns:
            parsed.add_error(0, column, f"No column “{column}” in the file (it was chosen for {target}); "
                                        f"the columns are: {', '.join(columns) or 'none'}.")
    for target in REQUIRED_TARGETS:
        if target not in mapping and not (defaults.get(target) or "").strip():
            parsed.add_error(0, target, f"Nothing gives the brief's {target}: choose a column or write a default.")
    if parsed.error_count:
        return parsed
    number = 0
    for number, record in enumerate(records, start=1):
        if number > max_rows:
            raise FileRefused(f"The file has more than {max_rows:,} rows; split it into files of at most "
                              f"{max_rows:,} rows.")
        parsed.rows.append(_row(parsed, number, record, mapping, defaults, properties, required_vars))
    if number == 0:
        raise FileRefused("The file has no rows.")
    if parsed.error_count:
        parsed.rows = []
    return parsed


def _row(parsed: Parsed, number: int, record: dict[Any, Any], mapping: dict[str, str], defaults: dict[str, str],
         properties: dict[str, Any], required_vars: set[str]) -> dict[str, Any]:
    if None in record:
        parsed.add_error(number, "", "This row has more cells than the header has columns.")
    # PostgreSQL cannot store NUL; the request-level check (aios/text_input.py) does not read files.
    if any("\x00" in (v if isinstance(v, str) else json.dumps(v)) for v in record.values() if v is not None):
        parsed.add_error(number, "", "This row contains a NUL character (U+0000), which is not allowed.")
        return {}
    cells = {k: ("" if v is None else v) for k, v in record.items() if k is not None}
    values: dict[str, Any] = {"variables": {}}
    for target, cap in BRIEF_TARGETS.items():
        column = mapping.get(target)
        if column:
            text = cells.get(column, "")
            text = text if isinstance(text, str) else json.dumps(text, ensure_ascii=False)
        else:
            try:
                text = (defaults.get(target) or "").format_map(cells)
            except KeyError as exc:
                parsed.add_error(number, target, f"The default for {target} names a column {exc} the file lacks.")
                continue
            except (ValueError, IndexError) as exc:
                parsed.add_error(number, target, f"The default for {target} cannot be filled in: {exc}.")
                continue
            column = target
        text = text.strip()
        if not text:
            parsed.add_error(number, column, f"Empty: the brief's {target} is required.")
        elif len(text) > cap:
            parsed.add_error(number, column, f"Too long for the brief's {target}: {len(text)} characters, "
                                             f"at most {cap}.")
        values[target] = text
    for name, prop in properties.items():
        column = mapping.get(name)
        raw = cells.get(column, "") if column else ""
        if raw == "" or raw is None:
            if name in required_vars and "default" not in prop:
                parsed.add_error(number, column or name, f"Empty: the template's variable “{name}” is required.")
            continue
        value = _variable_value(prop, raw)
        for problem in variables_problems({"properties": {name: prop}}, {name: value}):
            parsed.add_error(number, column, problem)
        values["variables"][name] = value
    return values
