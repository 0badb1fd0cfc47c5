"""Reading only the columns a computation needs, in bounded batches.

A table is a CSV file (optionally compressed: pyarrow infers gzip/bz2/zstd from the suffix),
a Parquet file, a directory of Parquet files (a dataset, Hive partitions allowed), a Parquet
file or dataset on S3-compatible storage (``s3://bucket/path``), a
:class:`pandas.DataFrame` or a :class:`pyarrow.Table`. (SQL tables are pushed down instead:
see :mod:`ordinance.metrics._sql`.) Every reader yields :class:`pyarrow.RecordBatch` objects
holding just the requested columns, so a computation whose state is additive (confusion
counts, histogram counts) runs in memory bounded by the batch size, not the table size:

* CSV goes through pyarrow's streaming reader (``pyarrow.csv.open_csv``) with
  ``include_columns``; string columns named in ``dictionary`` are parsed straight into
  dictionary arrays. **Only empty cells are missing** unless ``na_values`` says otherwise: a
  real category ``NA`` stays a category.
* Parquet (file, directory or S3) is scanned with ``pyarrow.dataset`` in batches, only the
  needed columns, without threads (``use_threads=False``): with pyarrow's threaded readahead
  the buffered batches grew with the table whenever counting was slower than reading (1.2 GiB
  peak at 50M rows); unthreaded, the peak stays flat (~40 MiB of Arrow buffers).
* In-memory tables are sliced into batches, so converting object columns to Arrow never
  copies the whole table at once.

A column name that appears twice is refused (exit 2) when the computation needs it — pyarrow
would silently take the first — unless, in a CSV, every copy holds the same values (COMPAS
ships ``decile_score`` twice); copies that differ are an error naming the first differing row.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_ds

from ordinance.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: A table: a CSV or Parquet path (file, dataset directory, ``s3://`` URI), a DataFrame
#: or a pyarrow Table.
TableSource: TypeAlias = "str | os.PathLike[str] | pd.DataFrame | pa.Table"

#: Rows per batch for in-memory tables and Parquet scans.
BATCH_ROWS = 1 << 20
#: Bytes of CSV text per block (one batch each). pyarrow's streaming reader reads ahead
#: several blocks, so its memory grows with this; 1 MiB (pyarrow's default) kept a 10M-row
#: run at ~220 MiB peak RSS and was as fast as larger blocks on 2 cores.
CSV_BLOCK_BYTES = 1 << 20
#: CSV cells read as missing by default: only the empty cell.
NA_VALUES: tuple[str, ...] = ("",)
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


def source_name(source: TableSource) -> str:
    """How error messages name a table: its path, or the kind of in-memory object."""
    if isinstance(source, str | os.PathLike):
        return _redact(os.fspath(source))
    if isinstance(source, pa.Table):
        return "<pyarrow.Table>"
    return "<DataFrame>"


def _redact(text: str) -> str:
    """An ``s3://`` URI without its query (which may carry credentials)."""
    return text.split("?", 1)[0] if text.startswith("s3://") else text


def _is_s3(source: object) -> bool:
    return isinstance(source, str) and source.startswith("s3://")


def _is_parquet(path: Path) -> bool:
    if path.is_dir():
        return True
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return True
    if any(s.lower() == ".csv" for s in path.suffixes):
        return False
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def _check_path(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if not (path.is_file() or path.is_dir()):
        raise InputError(f"{path}: no such file")
    return path


def s3_filesystem(uri: str) -> tuple[Any, str]:
    """pyarrow's S3 filesystem and the ``bucket/key`` path for an ``s3://`` URI.

    The query may set ``endpoint_override`` (``host:port`` of an S3-compatible server),
    ``scheme`` (``http`` for a local server), ``region`` and ``anonymous=true``; credentials
    come from the usual AWS environment variables or profile, never from the URI.
    """
    from pyarrow import fs

    parts = urlsplit(uri)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint_override", "scheme", "region", "anonymous"}
    if unknown:
        raise InputError(f"{_redact(uri)}: unknown S3 option {sorted(unknown)[0]!r}")
    kwargs: dict[str, Any] = {
        k: query[k] for k in ("endpoint_override", "scheme", "region") if k in query
    }
    if query.get("anonymous", "").lower() == "true":
        kwargs["anonymous"] = True
    try:
        return fs.S3FileSystem(**kwargs), f"{parts.netloc}{parts.path}"
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{_redact(uri)}: cannot open S3: {_one_line(exc)}") from exc


def _dataset(source: str | os.PathLike[str], dictionary: Sequence[str] = ()) -> pa_ds.Dataset:
    fmt = pa_ds.ParquetFileFormat(
        read_options=pa_ds.ParquetReadOptions(dictionary_columns=list(dictionary))
    )
    if _is_s3(source):
        assert isinstance(source, str)
        filesystem, path = s3_filesystem(source)
        return pa_ds.dataset(path, format=fmt, filesystem=filesystem, partitioning="hive")
    return pa_ds.dataset(os.fspath(source), format=fmt, partitioning="hive")


def column_names(source: TableSource) -> list[str]:
    """The column names of a table (header, Parquet footer or schema), duplicates kept."""
    return _column_names(source)


def duplicated(names: Sequence[str]) -> set[str]:
    """The names that occur more than once."""
    seen: set[str] = set()
    return {n for n in names if n in seen or seen.add(n)}  # type: ignore[func-returns-value]


def _column_names(source: TableSource) -> list[str]:
    if isinstance(source, pa.Table):
        return list(source.column_names)
    if not isinstance(source, str | os.PathLike):
        return [str(c) for c in source.columns]
    try:
        if _is_s3(source):
            return list(_dataset(source).schema.names)
        path = _check_path(source)
        if _is_parquet(path):
            return list(_dataset(path).schema.names)
        with pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 16)) as r:
            return list(r.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{source_name(source)}: cannot read table: {_one_line(exc)}") from exc


def require_columns(source: TableSource, columns: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the table and the first missing column, or a
    requested column whose name appears twice (a reader would silently take the first)."""
    have = column_names(source)
    present = set(have)
    twice = duplicated(have)
    for col in columns:
        if col not in present:
            shown = ", ".join(have[:20]) + (", ..." if len(have) > 20 else "")
            raise InputError(f"{source_name(source)}: no column {col!r} (columns: {shown})")
        if col in twice and not is_csv(source):
            raise InputError(f"{source_name(source)}: column {col!r} appears twice")


def is_csv(source: TableSource) -> bool:
    """Whether the table is a CSV file (whose columns come as text to be typed)."""
    if not isinstance(source, str | os.PathLike) or _is_s3(source):
        return False
    return not _is_parquet(_check_path(source))


def iter_batches(
    source: TableSource,
    columns: Sequence[str],
    *,
    dictionary: Sequence[str] = (),
    types: Mapping[str, pa.DataType] | None = None,
    batch_rows: int = BATCH_ROWS,
    na_values: Sequence[str] = NA_VALUES,
) -> Iterator[pa.RecordBatch]:
    """Yield record batches holding ``columns`` (in that order, duplicates removed).

    ``dictionary`` names string columns to read as dictionary arrays (CSV and Parquet);
    ``types`` forces CSV column types (e.g. ``float64`` for a score), so a batch deep in
    the file cannot silently change a column's inferred type; ``na_values`` are the CSV
    cells read as missing.
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
        elif _is_s3(source) or _is_parquet(Path(source)):
            dataset = _dataset(source, [c for c in dictionary if c in cols])
            scanner = dataset.scanner(
                columns=cols,
                batch_size=batch_rows,
                batch_readahead=1,
                fragment_readahead=1,
                use_threads=False,
            )
            yield from scanner.to_batches()
        else:
            yield from _csv_batches(Path(source), cols, dictionary, types or {}, na_values)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{name}: cannot read table: {_one_line(exc)}") from exc


def _csv_convert(
    cols: list[str] | None, column_types: Mapping[str, pa.DataType], na_values: Sequence[str]
) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(
        include_columns=cols or [],
        column_types=dict(column_types),
        strings_can_be_null=True,
        null_values=list(na_values),
    )


def _csv_batches(
    path: Path,
    cols: list[str],
    dictionary: Sequence[str],
    types: Mapping[str, pa.DataType],
    na_values: Sequence[str],
) -> Iterator[pa.RecordBatch]:
    column_types: dict[str, pa.DataType] = {c: t for c, t in types.items() if c in cols}
    for c in dictionary:
        if c in cols and c not in column_types:
            column_types[c] = pa.dictionary(pa.int32(), pa.string())
    names, copies = _csv_names(path, cols)
    for col, others in copies.items():
        for other in others:
            if col in column_types:
                column_types[other] = column_types[col]
    wanted = cols + [o for others in copies.values() for o in others]
    convert = _csv_convert(wanted, column_types, na_values)
    read = pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES, column_names=names, skip_rows=1)
    offset = 0
    try:
        with pa_csv.open_csv(path, read_options=read, convert_options=convert) as reader:
            for batch in reader:
                _same_copies(path, batch, copies, offset)
                offset += batch.num_rows
                yield batch.select(cols)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: {_name_csv_column(_one_line(exc), path)}") from exc


def _csv_names(path: Path, cols: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Header names made unique (``x``, ``x\x00 2``, ...) and, for each wanted column that
    appears more than once, the names of its other copies."""
    names: list[str] = []
    copies: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for n in _column_names(path):
        k = seen.get(n, 0)
        seen[n] = k + 1
        if k == 0:
            names.append(n)
            continue
        alias = f"{n}\x00 {k + 1}"
        names.append(alias)
        if n in cols:
            copies.setdefault(n, []).append(alias)
    return names, copies


def _same_copies(
    path: Path, batch: pa.RecordBatch | pa.Table, copies: Mapping[str, list[str]], offset: int
) -> None:
    import pyarrow.compute as pc

    for col, others in copies.items():
        first = batch.column(col).cast(pa.string())
        for other in others:
            second = batch.column(other).cast(pa.string())
            if first.equals(second):
                continue
            differ = pc.or_(
                pc.fill_null(pc.not_equal(first, second), False),
                pc.xor(pc.is_null(first), pc.is_null(second)),
            )
            row = offset + pc.index(differ, True).as_py() + 1
            raise InputError(
                f"{path}: column {col!r} appears twice with different values (row {row})"
            )


def _name_csv_column(message: str, path: Path) -> str:
    """Replace pyarrow's ``CSV column #2`` by the column's name."""
    match = re.search(r"CSV column #(\d+)", message)
    if match is None:
        return message
    names = _column_names(path)
    index = int(match.group(1))
    if index >= len(names):
        return message
    return message.replace(match.group(0), f"column {names[index]!r}", 1)


def read_table(
    source: TableSource,
    columns: Sequence[str] | None = None,
    *,
    types: Mapping[str, pa.DataType] | None = None,
    na_values: Sequence[str] = NA_VALUES,
) -> pa.Table:
    """Read a whole table (only ``columns`` if given) into memory.

    ``types`` forces CSV column types (``pa.string()`` to type the text oneself).
    """
    names = column_names(source)
    if columns is not None:
        require_columns(source, columns)
    elif duplicated(names) and not is_csv(source):
        raise InputError(
            f"{source_name(source)}: column {sorted(duplicated(names))[0]!r} appears twice"
        )
    name = source_name(source)
    cols = list(dict.fromkeys(names if columns is None else columns))
    try:
        if isinstance(source, pa.Table):
            return source.select(cols)
        if not isinstance(source, str | os.PathLike):
            return pa.Table.from_pandas(source[cols], preserve_index=False)
        if _is_s3(source) or _is_parquet(Path(source)):
            return _dataset(source).to_table(columns=cols)
        path = Path(source)
        col_names, copies = _csv_names(path, cols)
        column_types = {c: t for c, t in (types or {}).items() if c in cols}
        for col, others in copies.items():
            for other in others:
                if col in column_types:
                    column_types[other] = column_types[col]
        wanted = cols + [o for others in copies.values() for o in others]
        convert = _csv_convert(wanted, column_types, na_values)
        read = pa_csv.ReadOptions(column_names=col_names, skip_rows=1)
        table = pa_csv.read_csv(path, read_options=read, convert_options=convert)
        _same_copies(path, table, copies, 0)
        return table.select(cols)
    except (pa.ArrowException, OSError) as exc:
        message = _one_line(exc)
        if isinstance(source, str | os.PathLike) and not _is_s3(source):
            message = _name_csv_column(message, Path(source))
        raise InputError(f"{name}: cannot read table: {message}") from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
