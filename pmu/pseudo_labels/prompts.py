"""Prompt template sets and prompt features of a vocabulary.

A template set turns each vocabulary entry into sentences; ``encode_vocabulary``
encodes them with a text encoder and averages over the templates, so a
teacher can compare an image region with every entry at once.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn.functional as F

from pmu.registry import PROMPTS


@PROMPTS.register_module()
class TemplateSet:
    """Templates with one ``{}`` each, filled with a vocabulary entry.

    Register a set of your own with ``@PROMPTS.register_module()`` on a
    subclass, or give the templates in the config:
    ``dict(type='TemplateSet', templates=['a photo of {}.'])``.
    """
    templates: Sequence[str] = ()

    def __init__(self, templates: Optional[Sequence[str]] = None):
        if templates is not None:
            self.templates = tuple(templates)
        if not self.templates:
            raise ValueError(f'{type(self).__name__}: no templates')
        for t in self.templates:
            if t.count('{}') != 1:
                raise ValueError(f"template {t!r} must contain exactly one '{{}}'")
        self.templates = tuple(self.templates)

    def fill(self, entry: str) -> List[str]:
        return [t.format(entry) for t in self.templates]


# The official PROMU templates (THU-BPM/PROMU).
@PROMPTS.register_module(name='promu_entity')
class PromuEntityTemplates(TemplateSet):
    templates = ('This is an image of {}.', 'An image of {} is shown here')


@PROMPTS.register_module(name='promu_relation')
class PromuRelationTemplates(TemplateSet):
    templates = ('This image shows the relation of {}.', 'The relation {} is shown in this image',
                 'The relation between the objects in the image is {}')


# Alternatives for ablations: CLIP-style photo prompts, and the bare words.
@PROMPTS.register_module(name='clip_entity')
class ClipEntityTemplates(TemplateSet):
    templates = ('a photo of {}.', 'a photo of the {}.', 'a close-up photo of {}.',
                 'a news photo showing {}.')


@PROMPTS.register_module(name='bare_word')
class BareWordTemplates(TemplateSet):
    templates = ('{}', )


def prompt_cache_key(encoder_id: str, templates: Sequence[str], vocabulary: Sequence[str],
                     normalize: bool = True) -> str:
    payload = json.dumps([encoder_id, list(templates), list(vocabulary), normalize], ensure_ascii=False)
    return hashlib.sha256(payload.encode('utf-8')).hexdigest()[:24]


@torch.no_grad()
def encode_vocabulary(vocabulary: Sequence[str],
                      templates: TemplateSet,
                      encode: Callable[[List[str]], torch.Tensor],
                      encoder_id: str,
                      batch_size: int = 256,
                      normalize: bool = True,
                      cache_dir: Optional[str] = None) -> torch.Tensor:
    """Prompt features ``[len(vocabulary), D]``: each entry's templates encoded and averaged.

    Args:
        encode: text encoder, ``list of str -> Tensor[N, D]``.
        encoder_id: names the encoder and its weights in the cache key: change
            it whenever the encoder changes, or stale features are read back.
        normalize: L2-normalise each template's feature before averaging and
            the average after it (CLIP's prompt ensembling), so templates weigh
            equally and features compare by cosine similarity.
        cache_dir: features are saved there as ``<hash>.pt``, the hash of
            (encoder_id, templates, vocabulary, normalize), and read back when
            the same triple comes again.
    """
    if isinstance(templates, dict):
        templates = PROMPTS.build(templates)
    if not vocabulary:
        raise ValueError('encode_vocabulary: empty vocabulary')
    cache_file = None
    if cache_dir:
        key = prompt_cache_key(encoder_id, templates.templates, vocabulary, normalize)
        cache_file = osp.join(cache_dir, f'prompt_features_{key}.pt')
        if osp.exists(cache_file):
            return torch.load(cache_file, map_location='cpu')['features']

    # Template-major order: all entries through template 0, then template 1, ...
    sentences = [t.format(entry) for t in templates.templates for entry in vocabulary]
    chunks = []
    for start in range(0, len(sentences), batch_size):
        feats = encode(sentences[start:start + batch_size]).float().cpu()
        chunks.append(F.normalize(feats, dim=-1) if normalize else feats)
    features = torch.cat(chunks).view(len(templates.templates), len(vocabulary), -1).mean(0)
    if normalize:
        features = F.normalize(features, dim=-1)

    if cache_file:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f'{cache_file}.tmp{os.getpid()}'
        torch.save(dict(features=features, vocabulary=list(vocabulary), templates=list(templates.templates),
                        encoder_id=encoder_id, normalize=normalize), tmp)
        os.replace(tmp, cache_file)  # atomic: a killed run never leaves half a cache file
    return features
