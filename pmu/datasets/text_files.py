"""Reading the text files of the datasets: errors that name file and line."""
from typing import Iterator, Tuple


class DataFormatError(ValueError):
    """A data file that cannot be read as documented; names file and line."""


def utf8_lines(path: str) -> Iterator[Tuple[int, str]]:
    """``(line_no, line)`` of a text file, decoded as UTF-8 line by line (a BOM at the start is
    dropped); a line that is not UTF-8 raises :class:`DataFormatError` naming ``file:line``."""
    with open(path, 'rb') as f:
        for line_no, raw in enumerate(f, 1):
            try:
                line = raw.decode('utf-8-sig' if line_no == 1 else 'utf-8')
            except UnicodeDecodeError as e:
                raise DataFormatError(
                    f'{path}:{line_no}: not UTF-8 (byte {raw[e.start:e.start + 1]!r} at column {e.start + 1}: '
                    f'{e.reason}); convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8') from None
            yield line_no, line
