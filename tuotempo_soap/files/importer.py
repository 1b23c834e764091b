"""Reading one export file, in bounded memory, whatever its size.

``fetch`` copies the file from its folder into a local temporary file while
``ContentScan`` sees every byte (size, SHA-256, encoding): what is read
afterwards is that copy, so a file the clinic rewrites meanwhile cannot be
read half old, half new. ``ExportReading`` then streams the copy: a
``csv.reader`` over a decoded stream yields one ``FileRow`` at a time, and
``batches`` groups them; nothing holds the whole file. ``ResultFile`` writes
the per-row answer to a local temporary file as rows are answered, and uploads
it next to the export as ``<name>.result.csv``.

What the rows mean (validation, storing, cancellations) is the service's
business (``services.file_imports``): this module only reads and writes files.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO

from .formats import (
    ContentScan,
    DateFormat,
    FileFacts,
    FileRow,
    Layout,
    ResultLine,
    ResultWriter,
    detect_date_format,
    read_layout,
    read_rows,
    sample_dates,
)
from .transports import FileTransport

RESULT_SUFFIX = ".result.csv"
Progress = Callable[[int], object]


def result_name(name: str) -> str:
    return f"{name}{RESULT_SUFFIX}"


def fetch(
    transport: FileTransport,
    folder: str,
    name: str,
    target: IO[bytes],
    *,
    encoding: str | None,
    progress: Progress | None = None,
) -> FileFacts:
    """Copy ``folder/name`` into ``target``, scanning it on the way."""
    scan = ContentScan(encoding)

    def sink(chunk: bytes) -> None:
        scan.feed(chunk)
        target.write(chunk)
        if progress is not None:
            progress(len(chunk))

    transport.download(folder, name, sink)
    target.flush()
    return scan.finish()


class _Counted(io.RawIOBase):
    """A raw reader that reports how many bytes were read (the progress bar)."""

    def __init__(self, raw: BinaryIO, progress: Progress) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._progress(count)
        return int(count or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class ExportReading:
    """An open export: its layout, its date format, and its rows (once)."""

    layout: Layout
    dates: DateFormat
    rows: Iterator[FileRow]
    _stream: IO[str]

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ExportReading:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _text(path: Path, encoding: str, progress: Progress | None = None) -> IO[str]:
    raw: BinaryIO = open(path, "rb", buffering=0)  # noqa: SIM115 - closed with the text stream
    if progress is not None:
        raw = io.BufferedReader(_Counted(raw, progress))
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def open_export(
    path: Path,
    facts: FileFacts,
    *,
    delimiter: str | None = None,
    dates: DateFormat | None = None,
    progress: Progress | None = None,
) -> ExportReading:
    """Read the header (``FileFormatError`` when it is not one of the guide's) and
    the date format (configured, or detected from the first dates)."""
    if dates is None:
        with _text(path, facts.encoding) as sample:
            layout = read_layout(sample, delimiter)
            dates = detect_date_format(sample_dates(sample, layout))
    stream = _text(path, facts.encoding, progress)
    try:
        layout = read_layout(stream, delimiter)
    except BaseException:
        stream.close()
        raise
    return ExportReading(layout, dates, read_rows(stream, layout, dates), stream)


def batches(rows: Iterable[FileRow], size: int) -> Iterator[list[FileRow]]:
    batch: list[FileRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class ResultFile:
    """``<name>.result.csv`` being written to a local temporary file."""

    def __init__(self, directory: Path | None, *, delimiter: str, encoding: str) -> None:
        handle, path = tempfile.mkstemp(prefix="result-", suffix=".csv", dir=directory)
        os.close(handle)
        self.path = Path(path)
        # The clinic reads it with the tools it reads its export with: its
        # delimiter and encoding (a character it cannot hold becomes "?").
        self._stream = open(  # noqa: SIM115 - closed by close()
            self.path, "w", encoding=encoding, errors="replace", newline=""
        )
        self._writer = ResultWriter(self._stream, delimiter)
        self.lines = 0

    def write(self, line: ResultLine) -> None:
        self._writer.write(line)
        self.lines += 1

    def upload(self, transport: FileTransport, folder: str, name: str) -> None:
        self._stream.close()
        with open(self.path, "rb") as source:
            transport.upload(folder, result_name(name), source)

    def close(self) -> None:
        self._stream.close()
        self.path.unlink(missing_ok=True)
