"""Printing results as az does: ``-o json|jsonc|table|tsv|yaml|none`` after an optional JMESPath ``--query``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import jmespath
import jmespath.exceptions
import yaml
from rich.console import Console
from rich.table import Table

from tether.protocol.answers import provisioning_state_column

FORMATS = ("json", "jsonc", "table", "tsv", "yaml", "yamlc", "none")


def apply_query(data: Any, query: str | None) -> Any:
    if not query:
        return data
    try:
        return jmespath.search(query, data)
    except jmespath.exceptions.JMESPathError as e:
        raise click.UsageError(f"argument --query: invalid JMESPath query '{query}': {e}") from e


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _table_rows(data: Any) -> tuple[list[str], list[list[str]]]:
    items = data if isinstance(data, list) else [data]
    if items and not all(isinstance(i, dict) for i in items):
        return ["Result"], [["" if i is None else str(i)] for i in items]
    columns: list[str] = []
    flattened = []
    for item in items:
        row = {k: v for k, v in item.items() if _scalar(v)}
        for column, value in provisioning_state_column(item).items():
            row.setdefault(column, value)
        for key in row:
            if key not in columns:
                columns.append(key)
        flattened.append(row)
    columns = [c for c in columns if c not in ("id", "type")] or columns
    return columns, [["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in flattened]


def _tsv(data: Any) -> str:
    items = data if isinstance(data, list) else [data]
    lines = []
    for item in items:
        if isinstance(item, dict):
            lines.append("\t".join("" if v is None else str(v) for v in item.values() if _scalar(v)))
        elif isinstance(item, list):
            lines.append("\t".join("" if v is None else str(v) for v in item if _scalar(v)))
        else:
            lines.append("" if item is None else str(item))
    return "\n".join(lines)


def emit(data: Any, *, output: str, query: str | None) -> None:
    """Print ``data`` in the chosen format to stdout."""
    data = apply_query(data, query)
    if output == "none" or (data is None and output != "json"):
        return
    if output in ("json", "jsonc"):
        click.echo(json.dumps(data, indent=2, sort_keys=output == "jsonc"))
    elif output in ("yaml", "yamlc"):
        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())
    elif output == "tsv":
        click.echo(_tsv(data))
    else:
        columns, rows = _table_rows(data)
        table = Table(*[c[0].upper() + c[1:] for c in columns], box=None, header_style="bold", pad_edge=False)
        for row in rows:
            table.add_row(*row)
        Console(file=sys.stdout, width=200, soft_wrap=True).print(table)
