"""Bulk statements through the driver: many rows per call without SQLAlchemy's per-row work,
and ids in slices that fit an ``IN (...)`` list on every backend."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection


def insert_tuples(
    connection: Connection,
    target: Table,
    rows: Sequence[tuple[Any, ...]],
    columns: Sequence[str] | None = None,
) -> None:
    """Insert plain rows through the driver's executemany: values in the order of ``columns``
    (default: all of the table's, in its order). Rows must be tuples, as SQLAlchemy requires.

    For the millions of narrow band-index rows, and the passages, SQLAlchemy's per-row
    parameter handling costs more than the insert itself; this is the same INSERT without that
    layer. The values must be what the driver takes as is, but for JSON and timestamps, which go
    through the column type's own conversion, as SQLAlchemy's insert would send them.
    On PostgreSQL through psycopg the rows go in with ``COPY … FROM STDIN`` instead, in the
    connection's transaction: executemany sends a statement per row, and a batch's tens of
    thousands of band rows took most of the coordinator's time there. In COPY's binary format
    where every column's type has one (``_COPY_TYPES``): the text format sent each passage's
    signature in hex and the server parsed every value back from text.
    """
    if not rows:
        return
    names = [c.name for c in target.columns] if columns is None else [target.c[name].name for name in columns]
    rows = _processed(connection, target, names, rows)
    quote = connection.dialect.identifier_preparer.quote
    listed = ", ".join(quote(name) for name in names)
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        types = _copy_types(target, names)
        binary = " (FORMAT BINARY)" if types else ""
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(f"COPY {quote(target.name)} ({listed}) FROM STDIN{binary}") as copy:
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        return
    markers = ", ".join([placeholder(connection)] * len(names))
    connection.exec_driver_sql(f"INSERT INTO {quote(target.name)} ({listed}) VALUES ({markers})", list(rows))


def insert_array(
    connection: Connection, target: Table, rows: npt.NDArray[np.int64], columns: Sequence[str] | None = None
) -> None:
    """Insert the rows of a 2-D integer array (``insert_tuples``' rules): its columns are the
    integer columns ``columns`` (default: all of the table's).

    On PostgreSQL through psycopg the array is written as ``COPY … (FORMAT BINARY)``'s data in
    one block, made by NumPy: the band index's million rows a night, formatted row by row by
    ``Copy.write_row``, took more of the coordinator's time than the server took to insert them.
    Elsewhere ``insert_tuples`` of ``array_rows``.
    """
    if not len(rows):
        return
    names = [c.name for c in target.columns] if columns is None else list(columns)
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        insert_tuples(connection, target, array_rows(rows), names)
        return
    fields: list[tuple[str, str]] = [("fields", ">i2")]
    for i, name in enumerate(names):
        kind = next(_BINARY_INTEGERS[t] for t in type(target.c[name].type).__mro__ if t in _BINARY_INTEGERS)
        fields += [(f"size{i}", ">i4"), (f"value{i}", kind)]
        limits = np.iinfo(kind)
        if rows[:, i].min() < limits.min or rows[:, i].max() > limits.max:
            raise ValueError(f"{target.name}.{name}: a value out of the column's range")
    data = np.empty(len(rows), dtype=np.dtype(fields))
    data["fields"] = len(names)
    for i in range(len(names)):
        data[f"size{i}"] = data.dtype[f"value{i}"].itemsize
        data[f"value{i}"] = rows[:, i]
    quote = connection.dialect.identifier_preparer.quote
    listed = ", ".join(quote(target.c[name].name) for name in names)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {quote(target.name)} ({listed}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_BINARY_HEADER + data.tobytes() + _BINARY_TRAILER)


# COPY's binary format: a signature, flags and header extension length (both 0); each row its
# number of fields, then each field's length and big-endian value; -1 fields at the end.
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
_BINARY_INTEGERS = {SmallInteger: ">i2", Integer: ">i4", BigInteger: ">i8"}

# PostgreSQL's name of each column type that psycopg writes in COPY's binary format: a type's
# first ancestor here counts (BigInteger is an Integer, Text a String).
_COPY_TYPES = {
    SmallInteger: "int2",
    BigInteger: "int8",
    Integer: "int4",
    Boolean: "bool",
    Float: "float8",
    LargeBinary: "bytea",
    String: "text",
    JSONB: "jsonb",
    JSON: "json",
}


def _copy_types(target: Table, names: Sequence[str]) -> list[str] | None:
    """The binary COPY types of the columns ``names`` of ``target``, or None where one has none
    (dates, numerics: the text format then)."""
    types = []
    for name in names:
        column_type = target.c[name].type
        if isinstance(column_type, DateTime):
            kind: str | None = "timestamptz" if column_type.timezone else "timestamp"
        else:
            kind = next((_COPY_TYPES[t] for t in type(column_type).__mro__ if t in _COPY_TYPES), None)
        if kind is None:
            return None
        types.append(kind)
    return types


class JSONText(str):
    """A JSON column's value already encoded, as its type's converter would (``json.dumps``):
    ``insert_tuples`` writes it as it is. For values encoded where the work is spread (the
    workers'), not by the coordinator."""

    __slots__ = ()


def _converter(dialect: Any, column_type: Any) -> Callable[[Any], Any] | None:
    """The conversion of a column's values as SQLAlchemy makes it (None: none); a JSON column's
    takes ``JSONText`` as it is: the text on SQLite, wrapped for psycopg to send unchanged."""
    if not isinstance(column_type, (JSON, DateTime)):
        return None
    convert = column_type.dialect_impl(dialect).bind_processor(dialect)
    if not isinstance(column_type, JSON):
        return convert
    plain: Callable[[Any], Any] = convert or (lambda value: value)
    if dialect.name == "sqlite":
        return lambda value: value if isinstance(value, JSONText) else plain(value)
    if dialect.driver == "psycopg":
        from psycopg.types.json import Json, Jsonb

        wrap = Jsonb if isinstance(column_type, JSONB) else Json
        return lambda value: wrap(value, dumps=str) if isinstance(value, JSONText) else plain(value)
    return lambda value: plain(json.loads(value) if isinstance(value, JSONText) else value)


def _processed(
    connection: Connection, target: Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> Sequence[tuple[Any, ...]]:
    """``rows`` with their JSON and timestamp values converted by their column types, as
    SQLAlchemy does for its own statements (JSON text on SQLite, psycopg's JSON on PostgreSQL);
    the other values as they are, without a call each. A ``JSONText`` is sent as it is."""
    converters = [_converter(connection.dialect, target.c[name].type) for name in names]
    if not any(converters):
        return rows
    return [
        tuple(
            value if convert is None else convert(value)
            for convert, value in zip(converters, row, strict=True)
        )
        for row in rows
    ]


def new_ids(connection: Connection, target: Table, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``target``, ascending, as the database would give them in
    row order: taken before the rows are written, so that nothing is read back after and the
    linker can name the passages before their rows exist. One writer at a time (``guard``), so
    no other session takes ids meanwhile: on PostgreSQL the sequence is moved past them in one
    step (``setval``), not a ``nextval`` per id."""
    if not count:
        return []
    if connection.dialect.name == "postgresql":
        sequence = f"pg_get_serial_sequence('{target.name}', 'id')"
        sql = f"SELECT setval({sequence}, nextval({sequence}) + {int(count) - 1})"
        ((last,),) = fetch_sql(connection, sql)
        return list(range(int(last) - count + 1, int(last) + 1))
    # SQLite gives a row without an id the largest id plus one. Through the driver: a batch
    # takes ids three times, and SQLAlchemy's statement cost more than SQLite's answer.
    ((largest,),) = fetch_sql(
        connection, f"SELECT max(id) FROM {connection.dialect.identifier_preparer.quote(target.name)}"
    )
    start = (largest or 0) + 1
    return list(range(start, start + count))


def update_rows(
    connection: Connection,
    target: Table,
    rows: Sequence[tuple[int, ...]],
    columns: Sequence[str],
    *,
    changed_only: bool = False,
) -> None:
    """Set the columns ``columns[1:]`` of the rows of ``target`` whose ``columns[0]`` is a row's
    first value to its other values: plain integers, each key once. ``changed_only`` leaves alone
    the rows that already hold those values.

    ``insert_tuples``' reason: the tens of thousands of rows a batch updates cost more in
    SQLAlchemy's per-row parameter handling than in the database. On PostgreSQL through psycopg
    one ``UPDATE … FROM unnest(…)`` of the values as arrays: executemany sends a statement per
    row, each executed on its own. Elsewhere the driver's executemany: on SQLite a statement per
    row is a B-tree search in this process, and no set-based form measured faster
    (bench/README.md).
    """
    if not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    key, *values = (quote(target.c[name].name) for name in columns)
    name = quote(target.name)
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        given = ", ".join(["%s::integer[]"] * len(columns))
        sql = (
            f"UPDATE {name} SET "
            + ", ".join(f"{c} = v.{c}" for c in values)
            + f" FROM unnest({given}) AS v({key}, {', '.join(values)}) WHERE {name}.{key} = v.{key}"
        )
        if changed_only:
            sql += " AND (" + " OR ".join(f"{name}.{c} IS DISTINCT FROM v.{c}" for c in values) + ")"
        columns_of = [list(column) for column in zip(*rows, strict=True)]
        connection.exec_driver_sql(sql, tuple(columns_of))
        return
    marker = placeholder(connection)
    sql = f"UPDATE {name} SET " + ", ".join(f"{c} = {marker}" for c in values) + f" WHERE {key} = {marker}"
    if changed_only:
        differs = "IS NOT" if connection.dialect.name == "sqlite" else "IS DISTINCT FROM"
        sql += " AND (" + " OR ".join(f"{c} {differs} {marker}" for c in values) + ")"
    connection.exec_driver_sql(sql, [(*row[1:], row[0], *(row[1:] if changed_only else ())) for row in rows])


def fetch_by_ids(connection: Connection, sql: str, ids: Iterable[int]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``fetch_sql``'s rules) for each slice (``chunks``) of the distinct
    ``ids``, written into its ``{ids}`` as a list of integers.

    For the ids a batch reads by, hundreds a statement: SQLAlchemy's compiling of a statement of
    that many bound literals cost more than running it."""
    found: list[tuple[Any, ...]] = []
    for part in chunks(sorted({int(id_) for id_ in ids})):
        found += fetch_sql(connection, sql.format(ids=",".join(map(str, part))))
    return found


def fetch_sql(
    connection: Connection, sql: str, parameters: Sequence[Any] | None = None
) -> list[tuple[Any, ...]]:
    """The rows of SQL written by the caller, of integers and its own names only (other values
    bound as ``parameters``, in the driver's placeholders: ``placeholder``), as the driver's
    plain tuples, without a SQLAlchemy row each: for the hundreds of thousands of narrow rows
    the index reads."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, tuple(parameters))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def placeholder(connection: Connection) -> str:
    """The driver's mark of a bound value in SQL written for it."""
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


T = TypeVar("T")
CHUNK = 500  # ids per IN (...) list: far below every backend's parameter limit


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: the ids of one ``IN (...)`` list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def array_rows(rows: npt.NDArray[np.int64]) -> list[tuple[int, ...]]:
    """The rows of a 2-D integer array as tuples of Python ints, as ``insert_tuples`` takes
    them: a column at a time, three times faster than converting row by row."""
    return list(zip(*(column.tolist() for column in rows.T), strict=True))
