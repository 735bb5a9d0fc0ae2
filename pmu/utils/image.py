"""The one way pmu opens an image: datasets, ``LoadImage``, preparation and soft labels.

``load_image`` never raises for what is in the file (or for the file being
absent): it returns a status and a reason, and each caller decides what a bad
image means for it (a text-only sample, a skipped pair, a counted warning).
Only programming errors (an unknown ``mode``) raise.

Statuses:

- ``'ok'``: decoded completely;
- ``'missing'``: no path, or no file at the path;
- ``'unreadable'``: not an image PIL can read (another format, a text file, a
  directory, no permission to read it), or not a regular file at all (a FIFO,
  a socket, a device: refused from ``os.stat`` without opening it, as reading
  a FIFO waits for a writer forever);
- ``'corrupt'``: an image format PIL knows, but the data is broken: truncated,
  bad markers, a decoder error;
- ``'too_large'``: more pixels than allowed (checked from the header, before
  decoding) or refused by PIL as a decompression bomb.
"""
import os
import stat
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: pixels (width x height) above which ``LoadImage`` and the dataset image check refuse an image
DEFAULT_MAX_PIXELS = 64_000_000
IMAGE_STATUSES = ('ok', 'missing', 'unreadable', 'corrupt', 'too_large')
# 16-bit single-channel modes: PIL's convert('RGB') clips them at 255 (a white image) instead of scaling.
_SIXTEEN_BIT_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N')
#: the colour transparent pixels get when an image with alpha (RGBA, LA, PA, a palette or RGB/L image
#: with a transparent colour) is loaded in a mode without alpha: it is composited on this background,
#: so the colours hidden under transparent pixels never reach a model
TRANSPARENT_BACKGROUND = (255, 255, 255)
_ALPHA_MODES = ('RGBA', 'RGBa', 'LA', 'La', 'PA')
_FILE_KINDS = ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISSOCK, 'a socket'), (stat.S_ISCHR, 'a character device'),
               (stat.S_ISBLK, 'a block device'))


@dataclass(frozen=True)
class ImageLoadResult:
    """What ``load_image`` found: ``image`` (PIL, in the requested mode) only when ``status == 'ok'``."""
    image: Optional[Image.Image]
    status: str
    reason: str = ''

    @property
    def ok(self) -> bool:
        return self.status == 'ok'


def load_image(path: Optional[str], mode: str = 'RGB', *, exif_transpose: bool = True,
               max_pixels: Optional[int] = None) -> ImageLoadResult:
    """Open, fully decode and convert one image file.

    Args:
        path: the file; ``None`` or ``''`` is ``'missing'``.
        mode: PIL mode of the returned image. 16-bit greyscale is scaled to
            8 bits (65535 -> 255) rather than clipped. For a mode without
            alpha (``'RGB'``, ``'L'``), an image with transparency is
            composited on :data:`TRANSPARENT_BACKGROUND` (white) first.
        exif_transpose: turn the image upright by its EXIF orientation, as
            viewers show it. Pass ``False`` where coordinates refer to the
            pixels as stored (COCO boxes, the pseudo-label cache's boxes).
        max_pixels: refuse images with more pixels than this (``'too_large'``),
            read from the header before any decoding; ``None`` uses PIL's
            ``Image.MAX_IMAGE_PIXELS`` as the limit (and no limit if that is
            ``None``).

    Every pixel is decoded (``load()``), so a truncated file is ``'corrupt'``
    here and not an exception later, unless someone has set PIL's global
    ``ImageFile.LOAD_TRUNCATED_IMAGES``.
    """
    if mode not in Image.MODES:
        raise ValueError(f'load_image: unknown PIL mode {mode!r}; one of {sorted(Image.MODES)}')
    if path is None or path == '':
        return ImageLoadResult(None, 'missing', 'no image path')
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return ImageLoadResult(None, 'missing', 'no such file')
    except (OSError, ValueError) as e:  # no permission on a folder, a NUL byte in the path, ...
        return ImageLoadResult(None, 'unreadable', f'{type(e).__name__}: {e}')
    kind = next((name for is_kind, name in _FILE_KINDS if is_kind(st.st_mode)), None)
    if kind is not None:
        return ImageLoadResult(None, 'unreadable', f'not a regular file ({kind}); not opened')
    try:
        with warnings.catch_warnings():
            # The limit below replaces PIL's warning (PIL still refuses twice its own limit itself).
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if limit is not None and width * height > limit:
                    return ImageLoadResult(None, 'too_large', f'{width}x{height} pixels > max_pixels={limit}')
                im.load()
                return _finish(im, mode, exif_transpose)
    except FileNotFoundError:
        return ImageLoadResult(None, 'missing', 'no such file')
    except (IsADirectoryError, PermissionError) as e:
        return ImageLoadResult(None, 'unreadable', f'{type(e).__name__}: {e}')
    except UnidentifiedImageError:
        return ImageLoadResult(None, 'unreadable', 'not an image file PIL can read')
    except (Image.DecompressionBombError, MemoryError) as e:
        return ImageLoadResult(None, 'too_large', str(e) or type(e).__name__)
    except Exception as e:  # noqa: BLE001
        # PIL's decoders report broken bytes as OSError, SyntaxError, ValueError, EOFError,
        # struct.error, IndexError, ... depending on the plugin; the arguments were checked above,
        # so anything raised while reading is the file's fault.
        return ImageLoadResult(None, 'corrupt', f'{type(e).__name__}: {e}')


def _finish(im: Image.Image, mode: str, exif_transpose: bool) -> ImageLoadResult:
    """Orientation and mode of a decoded image; the result no longer needs the open file."""
    reason = ''
    out = im
    if exif_transpose:
        try:
            out = ImageOps.exif_transpose(im)
        except Exception as e:  # noqa: BLE001  a broken EXIF block does not make the pixels unusable
            reason = f'EXIF orientation ignored ({type(e).__name__}: {e})'
    if out.mode in _SIXTEEN_BIT_MODES or (out.mode == 'I' and out.getextrema()[1] > 255):
        pixels = np.asarray(out).astype(np.int64).clip(0, 65535)
        out = Image.fromarray((pixels // 257).astype(np.uint8), 'L')
    if mode not in _ALPHA_MODES and (out.mode in _ALPHA_MODES or 'transparency' in out.info):
        rgba = out.convert('RGBA')
        background = Image.new('RGBA', rgba.size, TRANSPARENT_BACKGROUND + (255, ))
        background.alpha_composite(rgba)
        out = background
    if out is im or out.mode != mode:
        out = out.convert(mode)  # a copy even for the same mode: the file closes after this
    return ImageLoadResult(out, 'ok', reason)


def check_image(path: Optional[str], max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> ImageLoadResult:
    """``load_image`` for checking only (every pixel decoded): the status and reason, no pixels kept."""
    result = load_image(path, exif_transpose=False, max_pixels=max_pixels)
    return ImageLoadResult(None, result.status, result.reason)
