"""Loading a DataFrame into a PostgreSQL table with COPY (push-down tests)."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv


def copy_into(url: str, table: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """CREATE TABLE and COPY the frame in (CSV; an empty unquoted field is NULL)."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    cols = ", ".join(f'"{c}" {types[c]}' for c in frame.columns)
    buf = io.BytesIO()
    pa_csv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        buf,
        pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} ({cols})")
        with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
            view = buf.getbuffer()
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])
