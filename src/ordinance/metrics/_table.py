"""Reading only the columns a computation needs, in bounded batches.

Tables come as CSV (optionally compressed: pyarrow infers gzip/bz2/zstd from the suffix),
Parquet, a :class:`pandas.DataFrame` or a :class:`pyarrow.Table`. Every reader yields
:class:`pyarrow.RecordBatch` objects holding just the requested columns, so a computation
whose state is additive (confusion counts) runs in memory bounded by the batch size, not the
table size:

* CSV goes through pyarrow's streaming reader (``pyarrow.csv.open_csv``) with
  ``include_columns``; string columns named in ``dictionary`` are parsed straight into
  dictionary arrays. Null markers are pyarrow's defaults (``""``, ``NA``, ``N/A``, ``NaN``,
  ``null``, ...), the same set pandas uses.
* Parquet is read row group by row group (``ParquetFile.iter_batches``), only the needed
  columns, with ``read_dictionary`` for the dictionary columns.
* In-memory tables are sliced into batches, so converting object columns to Arrow never
  copies the whole table at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ordinance.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: A table: a CSV or Parquet path, a DataFrame or a pyarrow Table.
TableSource: TypeAlias = "str | os.PathLike[str] | pd.DataFrame | pa.Table"

#: Rows per batch for in-memory tables and the target for Parquet batches.
BATCH_ROWS = 1 << 20
#: Bytes of CSV text per block (one batch each). pyarrow's streaming reader reads ahead
#: several blocks, so its memory grows with this; 1 MiB (pyarrow's default) kept a 10M-row
#: run at ~220 MiB peak RSS and was as fast as larger blocks on 2 cores.
CSV_BLOCK_BYTES = 1 << 20
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


def source_name(source: TableSource) -> str:
    """How error messages name a table: its path, or the kind of in-memory object."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    if isinstance(source, pa.Table):
        return "<pyarrow.Table>"
    return "<DataFrame>"


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return True
    if any(s.lower() == ".csv" for s in path.suffixes):
        return False
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _check_path(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def column_names(source: TableSource) -> list[str]:
    """The column names of a table, reading no more than its header (or Parquet footer)."""
    if isinstance(source, pa.Table):
        return list(source.column_names)
    if not isinstance(source, str | os.PathLike):
        return [str(c) for c in source.columns]
    path = _check_path(source)
    try:
        if _is_parquet(path):
            return list(pq.ParquetFile(path).schema_arrow.names)
        with pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 16)) as r:
            return list(r.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read table: {_one_line(exc)}") from exc


def require_columns(source: TableSource, columns: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the table and the first missing column."""
    have = column_names(source)
    present = set(have)
    for col in columns:
        if col not in present:
            shown = ", ".join(have[:20]) + (", ..." if len(have) > 20 else "")
            raise InputError(f"{source_name(source)}: no column {col!r} (columns: {shown})")


def iter_batches(
    source: TableSource,
    columns: Sequence[str],
    *,
    dictionary: Sequence[str] = (),
    types: Mapping[str, pa.DataType] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Yield record batches holding ``columns`` (in that order, duplicates removed).

    ``dictionary`` names string columns to read as dictionary arrays (CSV and Parquet);
    ``types`` forces CSV column types (e.g. ``float64`` for a score), so a batch deep in
    the file cannot silently change a column's inferred type.
    """
    cols = list(dict.fromkeys(columns))
    require_columns(source, cols)
    name = source_name(source)
    try:
        if isinstance(source, pa.Table):
            yield from source.select(cols).to_batches(max_chunksize=batch_rows)
        elif not isinstance(source, str | os.PathLike):
            for start in range(0, len(source), batch_rows):
                part = source.iloc[start : start + batch_rows][cols]
                yield from pa.Table.from_pandas(part, preserve_index=False).to_batches()
        elif _is_parquet(Path(source)):
            pf = pq.ParquetFile(source, read_dictionary=[c for c in dictionary if c in cols])
            yield from pf.iter_batches(batch_size=batch_rows, columns=cols)
        else:
            yield from _csv_batches(Path(source), cols, dictionary, types or {})
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{name}: cannot read table: {_one_line(exc)}") from exc


def _csv_batches(
    path: Path, cols: list[str], dictionary: Sequence[str], types: Mapping[str, pa.DataType]
) -> Iterator[pa.RecordBatch]:
    column_types: dict[str, pa.DataType] = {c: t for c, t in types.items() if c in cols}
    for c in dictionary:
        if c in cols and c not in column_types:
            column_types[c] = pa.dictionary(pa.int32(), pa.string())
    convert = pa_csv.ConvertOptions(
        include_columns=cols, column_types=column_types, strings_can_be_null=True
    )
    read = pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    try:
        with pa_csv.open_csv(path, read_options=read, convert_options=convert) as reader:
            for batch in reader:
                yield batch.select(cols)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: {_name_csv_column(_one_line(exc), path)}") from exc


def _name_csv_column(message: str, path: Path) -> str:
    """Replace pyarrow's ``CSV column #2`` by the column's name."""
    match = re.search(r"CSV column #(\d+)", message)
    if match is None:
        return message
    names = column_names(path)
    index = int(match.group(1))
    if index >= len(names):
        return message
    return message.replace(match.group(0), f"column {names[index]!r}", 1)


def read_table(source: TableSource, columns: Sequence[str] | None = None) -> pa.Table:
    """Read a whole table (only ``columns`` if given) into memory."""
    if columns is not None:
        require_columns(source, columns)
    name = source_name(source)
    try:
        if isinstance(source, pa.Table):
            return source if columns is None else source.select(list(columns))
        if not isinstance(source, str | os.PathLike):
            frame = source if columns is None else source[list(columns)]
            return pa.Table.from_pandas(frame, preserve_index=False)
        path = _check_path(source)
        cols = None if columns is None else list(dict.fromkeys(columns))
        if _is_parquet(path):
            return pq.read_table(path, columns=cols)
        convert = pa_csv.ConvertOptions(include_columns=cols or [], strings_can_be_null=True)
        return pa_csv.read_csv(path, convert_options=convert)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{name}: cannot read table: {_one_line(exc)}") from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
