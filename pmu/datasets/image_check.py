"""Deciding, once per dataset, which samples really have an image."""
import os.path as osp
from collections import Counter
from typing import Optional

from PIL import Image, UnidentifiedImageError


def image_status(img_path: Optional[str]) -> str:
    """``'ok'``, ``'missing'`` or ``'unreadable'`` for one image file.

    ``verify()`` reads the header and structure only, so this stays cheap for
    thousands of files; decoding errors later are caught by ``LoadImage``.
    """
    if not img_path or not osp.isfile(img_path):
        return 'missing'
    try:
        with Image.open(img_path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return 'unreadable'
    return 'ok'


def mark_images(data_list, logger, source: str) -> Counter:
    """Set ``has_image`` on every sample and log how many lack one."""
    counts = Counter()
    for info in data_list:
        status = image_status(info.get('img_path'))
        counts[status] += 1
        info['has_image'] = status == 'ok'
        if status == 'unreadable':
            logger.warning(f'{source}: image {info["img_path"]} is unreadable; '
                           'the sample is kept and runs without an image')
    total = len(data_list)
    logger.info(
        f'{source}: {counts["ok"]}/{total} samples have an image; '
        f'{counts["missing"]} missing, {counts["unreadable"]} unreadable '
        '(kept, run text-only with the visual side masked out)')
    return counts
