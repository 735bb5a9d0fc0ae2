"""Deciding, once per dataset, which samples really have an image."""
from collections import Counter
from typing import Optional

from pmu.utils.image import DEFAULT_MAX_PIXELS, check_image


def image_status(img_path: Optional[str], max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> str:
    """``'ok'``, ``'missing'``, ``'unreadable'``, ``'corrupt'`` or ``'too_large'`` for one image file.

    Every pixel is decoded (``pmu.utils.image.load_image``, the loader
    ``LoadImage`` uses), so an image counted here as present also loads later.
    """
    return check_image(img_path, max_pixels).status


def mark_images(data_list, logger, source: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> Counter:
    """Set ``has_image`` on every sample and log how many lack one; returns the count of each status."""
    counts = Counter()
    for info in data_list:
        result = check_image(info.get('img_path'), max_pixels)
        counts[result.status] += 1
        info['has_image'] = result.ok
        if not result.ok and result.status != 'missing':
            logger.warning(f'{source}: image {info["img_path"]} is unreadable; '
                           f'the sample is kept and runs without an image ({result.status}: {result.reason})')
    total = len(data_list)
    # "unreadable" in the summary: every file that is there but does not load; the breakdown follows.
    failed = {s: counts[s] for s in ('unreadable', 'corrupt', 'too_large') if counts[s]}
    breakdown = ' (' + ', '.join(f'{n} {s}' for s, n in failed.items()) + ')' if set(failed) - {'unreadable'} else ''
    logger.info(
        f'{source}: {counts["ok"]}/{total} samples have an image; '
        f'{counts["missing"]} missing, {sum(failed.values())} unreadable{breakdown} '
        '(kept, run text-only with the visual side masked out)')
    return counts
