"""The one image loader (pmu.utils.image) on real files, and its users' status counts."""
import logging

import numpy as np
import pytest
from PIL import Image

from pmu.utils.image import check_image, load_image


def _noise(width, height, mode='RGB', seed=0):
    rng = np.random.default_rng(seed)
    channels = len(Image.new(mode, (1, 1)).getbands())
    shape = (height, width) if channels == 1 else (height, width, channels)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


@pytest.fixture
def files(tmp_path):
    """One file per case, each made here with PIL (or by hand for the broken ones)."""
    f = {}
    f['good'] = tmp_path / 'good.jpg'
    _noise(40, 20).save(f['good'], quality=90)

    # Stored 40 wide and 20 high; orientation 6 means "rotate 90 degrees clockwise to view": 20 x 40 upright.
    f['rotated'] = tmp_path / 'rotated.jpg'
    exif = Image.Exif()
    exif[0x0112] = 6
    _noise(40, 20).save(f['rotated'], exif=exif)

    f['truncated'] = tmp_path / 'truncated.jpg'
    big = tmp_path / 'big.jpg'
    _noise(256, 256).save(big, quality=95)
    data = big.read_bytes()
    f['truncated'].write_bytes(data[:len(data) // 2])

    f['empty'] = tmp_path / 'empty.jpg'
    f['empty'].write_bytes(b'')
    f['text'] = tmp_path / 'notes.jpg'
    f['text'].write_text('this is not an image')
    f['bomb'] = tmp_path / 'bomb.png'
    Image.new('RGB', (100, 100)).save(f['bomb'])

    # 16-bit greyscale: 65535 (white), 32896 (half) and 0 (black) in the first row
    f['png16'] = tmp_path / 'sixteen.png'
    a = np.zeros((3, 5), np.uint16)
    a[0, 0], a[0, 1] = 65535, 32896
    Image.fromarray(a).save(f['png16'])
    assert Image.open(f['png16']).mode == 'I;16'

    f['cmyk'] = tmp_path / 'cmyk.jpg'
    Image.new('CMYK', (12, 8), (0, 255, 255, 0)).save(f['cmyk'])  # pure red in CMYK
    f['palette'] = tmp_path / 'palette.png'
    p = Image.new('P', (6, 4))
    p.putpalette([0, 0, 255] + [0, 0, 0] * 255)  # index 0 is blue
    p.save(f['palette'])
    return {k: str(v) for k, v in f.items()}


@pytest.mark.parametrize('case, status, size', [
    ('good', 'ok', (40, 20)),
    ('rotated', 'ok', (20, 40)),
    ('truncated', 'corrupt', None),
    ('empty', 'unreadable', None),
    ('text', 'unreadable', None),
    ('png16', 'ok', (5, 3)),
    ('cmyk', 'ok', (12, 8)),
    ('palette', 'ok', (6, 4)),
])
def test_each_kind_of_file_gets_its_status_and_upright_rgb_size(files, case, status, size):
    result = load_image(files[case])
    assert result.status == status, result.reason
    if status == 'ok':
        assert result.ok and result.image.mode == 'RGB' and result.image.size == size
        result.image.load()  # usable after the file was closed
    else:
        assert not result.ok and result.image is None and result.reason


def test_pixels_of_converted_modes(files):
    sixteen = load_image(files['png16']).image
    # scaled to 8 bits, not clipped at 255 (which would make every non-zero pixel white)
    assert [sixteen.getpixel((x, 0)) for x in range(3)] == [(255, 255, 255), (128, 128, 128), (0, 0, 0)]
    r, g, b = load_image(files['cmyk']).image.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60
    assert load_image(files['palette']).image.getpixel((0, 0)) == (0, 0, 255)
    assert load_image(files['palette'], 'L').image.mode == 'L'


def test_exif_orientation_applied_unless_turned_off(files):
    upright = load_image(files['rotated']).image
    stored = load_image(files['rotated'], exif_transpose=False).image
    assert stored.size == (40, 20) and upright.size == (20, 40)
    # orientation 6: the stored top-left corner is shown at the top-right
    np.testing.assert_array_equal(np.asarray(upright)[0, -1], np.asarray(stored)[0, 0])


def test_missing_and_not_a_file(files, tmp_path):
    assert load_image(str(tmp_path / 'nope.jpg')).status == 'missing'
    assert load_image(None).status == 'missing' and load_image('').status == 'missing'
    assert load_image(str(tmp_path)).status == 'unreadable'  # a directory


def test_too_large_from_the_header_and_as_decompression_bomb(files, monkeypatch):
    assert load_image(files['bomb']).ok  # 100 x 100 under PIL's default limit
    assert load_image(files['bomb'], max_pixels=9_999).status == 'too_large'
    assert '100x100 pixels > max_pixels=9999' in load_image(files['bomb'], max_pixels=9_999).reason
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 6_000)
    result = load_image(files['bomb'])  # over PIL's limit (which is now ours), under twice it: PIL only warns
    assert result.status == 'too_large' and 'max_pixels=6000' in result.reason
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1_000)
    with pytest.raises(Image.DecompressionBombError):  # PIL itself refuses twice its limit ...
        Image.open(files['bomb'])
    result = load_image(files['bomb'], max_pixels=10 ** 9)  # ... which load_image reports, not raises
    assert result.status == 'too_large' and 'decompression bomb' in result.reason


def test_programming_errors_still_raise(files):
    with pytest.raises(ValueError, match='unknown PIL mode'):
        load_image(files['good'], mode='RGBX-nonsense')


def test_dataset_image_check_counts_what_loads(files, caplog):
    """A truncated JPEG passes PIL's cheap verify() but does not decode: it must not count as an image."""
    from pmu.datasets.image_check import image_status, mark_images
    assert image_status(files['truncated']) == 'corrupt' and image_status(files['good']) == 'ok'
    data = [dict(img_path=files[k]) for k in ('good', 'rotated', 'truncated', 'text')] + [dict(img_path=None)]
    logger = logging.getLogger('test_image_check')
    with caplog.at_level(logging.INFO, logger='test_image_check'):
        counts = mark_images(data, logger, 'demo')
    assert [d['has_image'] for d in data] == [True, True, False, False, False]
    assert counts == dict(ok=2, corrupt=1, unreadable=1, missing=1)
    assert '2/5 samples have an image; 1 missing, 2 unreadable (1 unreadable, 1 corrupt)' in caplog.text
    assert check_image(files['good']).image is None  # the check keeps no pixels


def test_load_image_transform_upright_unless_boxes_refer_to_stored_pixels(files):
    from pmu.datasets.transforms import LoadImage
    out = LoadImage(size=None)(dict(img_path=files['rotated']))
    assert out['has_image'] and out['img'].shape == (40, 20, 3) and out['ori_shape'] == (40, 20)
    boxes = dict(img_path=files['rotated'], gt_boxes=np.zeros((1, 4), np.float32))
    assert LoadImage(size=None)(boxes)['img'].shape == (20, 40, 3)
    assert LoadImage(size=None, exif_transpose=True)(dict(boxes))['img'].shape == (40, 20, 3)
    bad = LoadImage(size=(8, 8))(dict(img_path=files['truncated']))
    assert bad['img'] is None and bad['has_image'] is False
    assert LoadImage(size=(8, 8))(dict(img_path=files['cmyk']))['img'].shape == (8, 8, 3)
