"""Odd and broken images through the one loader (``pmu.utils.image.load_image``) and its users:
the dataset image check and summary, ``LoadImage`` (training and ``tools/infer.py``), the
preparation and the soft labels. Every file is made here with PIL, or by hand for the broken ones.
"""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pmu.datasets import TwitterNERDataset
from pmu.datasets.transforms import LoadImage
from pmu.utils.image import load_image


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width x height`` and holds no pixel: a decompression bomb's size
    without its memory (PIL reads the size before any pixel)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IEND', b''))


def _noise(width, height, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), 'RGB')


@pytest.fixture
def images(tmp_path):
    d = tmp_path / 'imgs'
    d.mkdir()
    _png_header_only(d / 'bomb.png', 100_000, 100_000)       # 10^10 pixels: PIL's own bomb error
    _png_header_only(d / 'huge.png', 10_000, 7_000)          # 7*10^7 > DEFAULT_MAX_PIXELS, below PIL's limit
    big = d / 'big.jpg'
    _noise(256, 256).save(big, quality=95)
    (d / 'truncated.jpg').write_bytes(big.read_bytes()[:big.stat().st_size // 2])
    big.unlink()
    Image.new('CMYK', (12, 8), (0, 255, 255, 0)).save(d / 'cmyk.jpg')
    Image.fromarray(np.full((3, 5), 65535, np.uint16)).save(d / 'sixteen.png')
    p = Image.new('P', (6, 4))
    p.putpalette([0, 0, 255] + [0, 0, 0] * 255)
    p.save(d / 'palette.png', transparency=0)
    Image.new('RGB', (1, 1), (10, 20, 30)).save(d / 'one.png')
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view: stored 40x20, upright 20x40
    _noise(40, 20).save(d / 'rotated.jpg', exif=exif)
    (d / 'empty.jpg').write_bytes(b'')
    (d / 'text.jpg').write_text('not an image')
    (d / 'folder.jpg').mkdir()
    return d


@pytest.mark.parametrize('name, status, reason', [
    ('bomb.png', 'too_large', 'decompression bomb'),
    ('huge.png', 'too_large', '10000x7000 pixels > max_pixels=64000000'),
    ('truncated.jpg', 'corrupt', 'image file is truncated'),
    ('empty.jpg', 'unreadable', 'not an image file PIL can read'),
    ('text.jpg', 'unreadable', 'not an image file PIL can read'),
    ('folder.jpg', 'unreadable', 'IsADirectoryError'),
    ('absent.jpg', 'missing', 'no such file'),
])
def test_bad_images_get_a_status_and_never_raise(images, name, status, reason):
    result = load_image(str(images / name), max_pixels=64_000_000)
    assert (result.status, result.image) == (status, None)
    assert reason in result.reason


@pytest.mark.parametrize('name, size, pixel', [
    ('cmyk.jpg', (12, 8), None),
    ('sixteen.png', (5, 3), (255, 255, 255)),   # 65535 scaled to 255, not clipped from a wrong mode
    ('palette.png', (6, 4), (255, 255, 255)),   # a transparent palette index: the white background, not its blue
    ('one.png', (1, 1), (10, 20, 30)),
    ('rotated.jpg', (20, 40), None),            # EXIF orientation applied
])
def test_odd_modes_and_sizes_load_as_upright_rgb(images, name, size, pixel):
    result = load_image(str(images / name))
    assert result.ok and result.image.mode == 'RGB' and result.image.size == size
    if pixel:
        assert result.image.getpixel((0, 0)) == pixel
    if name == 'cmyk.jpg':
        r, g, b = result.image.getpixel((0, 0))
        assert r > 200 and g < 60 and b < 60


def test_dataset_summary_counts_what_really_loads_and_names_each_bad_file(tmp_path, images, mmlog):
    names = ['one', 'cmyk', 'rotated', 'bomb', 'huge', 'truncated', 'text', 'absent']
    conll = ''.join(f'IMGID:{n}\nhi\tO\n\n' for n in names)
    (tmp_path / 'f.txt').write_text(conll)
    for n in ('bomb', 'huge', 'one'):  # PIL reads the content, whatever the name says
        (images / f'{n}.png').rename(images / f'{n}.jpg')
    ds = TwitterNERDataset(ann_file=str(tmp_path / 'f.txt'), data_root=str(tmp_path), entity_types=('PER',),
                           data_prefix=dict(img_path='imgs'))
    assert [ds.get_data_info(i)['has_image'] for i in range(len(names))] == [True] * 3 + [False] * 5
    out = '\n'.join(mmlog.lines)
    assert ('f.txt: 3/8 samples have an image; 1 missing, 4 unreadable (1 unreadable, 1 corrupt, 2 too_large) '
            '(kept, run text-only with the visual side masked out)') in out
    for n, status in (('bomb', 'too_large'), ('huge', 'too_large'), ('truncated', 'corrupt'), ('text', 'unreadable')):
        assert f'image {images / n}.jpg is unreadable; the sample is kept and runs without an image ({status}:' in out


def test_load_image_transform_survives_a_bomb_and_names_it(images, mmlog):
    out = LoadImage(size=(8, 8))(dict(img_path=str(images / 'bomb.png')))
    assert out['img'] is None and out['has_image'] is False
    assert any(f'cannot read image {images / "bomb.png"} (too_large:' in m for m in mmlog.lines)


def test_load_image_transform_exif_upright_except_with_stored_pixel_boxes(images):
    path = str(images / 'rotated.jpg')
    assert LoadImage(size=None)(dict(img_path=path))['img'].shape == (40, 20, 3)
    with_boxes = LoadImage(size=None)(dict(img_path=path, gt_boxes=np.zeros((1, 4), np.float32)))
    assert with_boxes['img'].shape == (20, 40, 3)


def test_preparation_and_soft_labels_use_the_same_loader(images):
    from pmu.pseudo_labels.soft_labeler import _load_views
    views, why = _load_views(str(images / 'bomb.png'), np.zeros((1, 4)), np.zeros(1, bool), (8, 8))
    assert views is None and why.startswith('too_large:')
    views, why = _load_views(str(images / 'rotated.jpg'), np.array([[0, 0, 40, 20]]), np.ones(1, bool), (8, 8))
    assert why is None and views.shape == (2, 8, 8, 3)
