"""Entities of new posts with a trained ``MultimodalNER`` model."""
from typing import List, Tuple

import torch

from pmu.registry import TRANSFORMS
from pmu.structures import entity_spans
from .base import PostInferencer


def word_windows(costs: List[int], budget: int) -> List[Tuple[int, int]]:
    """Overlapping word windows ``[lo, hi)`` of at most ``budget`` sub-words that cover every word.

    One window when the post fits. Otherwise each window starts about half
    way into the previous one, so every word but the first and last few has
    context on both sides in some window. A single word longer than the
    budget gets a window of its own (the tokenizer then keeps its first
    sub-words, which is all the model reads of a word).
    """
    n = len(costs)
    if sum(costs) <= budget:
        return [(0, n)]
    windows, lo = [], 0
    while True:
        hi, used = lo, 0
        while hi < n and (hi == lo or used + costs[hi] <= budget):
            used += costs[hi]
            hi += 1
        windows.append((lo, hi))
        if hi == n:
            return windows
        lo = max(lo + 1, lo + (hi - lo) // 2)


class MNERInferencer(PostInferencer):
    """Named entities of posts (text + optional image) from a ``MultimodalNER`` config and weights.

    >>> ner = MNERInferencer('configs/mner/promu_minilm-effnet_twitter2017.py', 'work_dirs/...')
    >>> ner({'text': "Kawhi Leonard's block of the year", 'image': 'post.jpg'})
    {'text': ..., 'words': [...], 'tags': [...], 'entities': [{'text': 'Kawhi Leonard',
     'type': 'PER', 'start': 0, 'end': 13, 'word_start': 0, 'word_end': 2, 'score': 0.98}], ...}

    Posts longer than the model's ``max_length`` sub-words run as overlapping
    windows of words; each word takes its emissions from the window where it
    is most central, and the CRF decodes the whole post at once (the result
    then has ``windows``). Tags are BIO-valid (the CRF forbids orphan ``I-``),
    so ``tags`` and ``entities`` always agree.

    Confidences come from the CRF's marginals: ``tag_scores[w]`` is the
    probability of word ``w``'s predicted tag given the whole post, and an
    entity's ``score`` is the **mean** of ``tag_scores`` over its words.

    Args:
        grounder: optional object with ``ground(image_path, entities) ->
            [region or None]`` (e.g. ``pmu.apis.grounding.EntityGrounder``);
            for a post with an image each entity gets ``region``.
        Others as :class:`PostInferencer`.
    """
    model_type = 'MultimodalNER'
    task = 'mner'
    decode_chunk = 64  # posts decoded together (padded to the longest)

    def __init__(self, *args, grounder=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.grounder = grounder
        tok_step = next(t for t in self.cfg.test_dataloader.dataset.pipeline
                        if t['type'] == 'TokenizeWords')
        # the pipeline's own step: its sub-word counts are what the model will see (unknown-token words included)
        self.tokenize_step = TRANSFORMS.build(tok_step)

    def prepare(self, item: dict) -> dict:
        text, image = item['text'], item.get('image')
        offsets = self.post_tokenizer(text)
        if not offsets:
            raise ValueError(f'{item["where"]}: the text has no words')
        words = [w for w, _, _ in offsets]
        costs = self.tokenize_step.subword_counts(words)
        budget = self.max_length - self.tokenize_step.tokenizer.num_special_tokens_to_add()
        windows = word_windows(costs, budget)
        if len(windows) > 1:
            self.logger.info(f'{item["where"]}: {len(words)} words ({sum(costs)} sub-words) exceed '
                             f'max_length={self.max_length}: predicted in {len(windows)} '
                             'overlapping windows')
        samples = [dict(words=words[lo:hi], img_path=image, image_caption=self.caption_of(item),
                        has_image=image is not None and self.uses_images, sample_idx=k)
                   for k, (lo, hi) in enumerate(windows)]
        return dict(item=item, offsets=offsets, words=words, windows=windows, samples=samples)

    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> List:
        """The model's ``test_step`` (``predict``: ``pred_tags`` and ``pred_emissions`` per window):
        the post-level decoding of a long post and the tag scores (CRF marginals) read the emissions."""
        samples = self.model.test_step(inputs)
        for s in samples:
            if len(s.pred_emissions) != len(s.words):
                # word_windows sized the window with the same tokenizer; this would be a bug
                raise RuntimeError(f'a window of {len(s.words)} words lost words to truncation')
        return samples

    def stitch(self, windows, outputs, num_words: int) -> torch.Tensor:
        """Per word, the emissions of the window where it is farthest from an edge."""
        if len(windows) == 1:
            return outputs[0].pred_emissions
        stitched = torch.empty(num_words, outputs[0].pred_emissions.shape[-1])
        best = [-1] * num_words
        for (lo, hi), out in zip(windows, outputs):
            for w in range(lo, hi):
                # a post's own start and end are not window edges
                margin = min(w - lo if lo > 0 else num_words, hi - 1 - w if hi < num_words else num_words)
                if margin > best[w]:
                    best[w] = margin
                    stitched[w] = out.pred_emissions[w - lo]
        return stitched

    def merge(self, posts: List[dict], samples: List) -> List[dict]:
        """One result per post from the data samples of its windows, posts scored together in chunks.

        A post of one window takes the model's ``pred_tags``; a longer one is decoded once over the
        emissions stitched from its windows (:meth:`stitch`). Tag scores are the CRF's marginals."""
        grouped, k = [], 0
        for post in posts:
            grouped.append(samples[k:k + len(post['samples'])])
            k += len(post['samples'])
        head, results = self.model.head, []
        for k in range(0, len(posts), self.decode_chunk):
            chunk = list(zip(posts[k:k + self.decode_chunk], grouped[k:k + self.decode_chunk]))
            emissions = [self.stitch(p['windows'], o, len(p['words'])) for p, o in chunk]
            num_words = max(len(e) for e in emissions)
            padded = emissions[0].new_zeros(len(emissions), num_words, emissions[0].shape[-1])
            mask = torch.zeros(len(emissions), num_words, dtype=torch.bool)
            for b, e in enumerate(emissions):
                padded[b, :len(e)] = e
                mask[b, :len(e)] = True
            marginals = head.marginals(padded, mask)
            long_posts = [b for b, (p, _) in enumerate(chunk) if len(p['windows']) > 1]
            decoded = dict(zip(long_posts, head.decode(padded[long_posts], mask[long_posts]))) if long_posts else {}
            for b, (p, o) in enumerate(chunk):
                tags = ([self.model.tags[t] for t in decoded[b]] if b in decoded else list(o[0].pred_tags))
                results.append(self.make_result(p, o, tags, marginals[b]))
        return self.mark_random(results)

    def make_result(self, prepared: dict, outputs: List, tags: List[str], marginals: torch.Tensor) -> dict:
        item, offsets, words = prepared['item'], prepared['offsets'], prepared['words']
        text, image = item['text'], item.get('image')
        path = [self.model.tag2id[t] for t in tags]
        chosen = marginals[torch.arange(len(path)), torch.tensor(path)].tolist()
        tag_scores = [round(p, 4) for p in chosen]
        entities = []
        for etype, ws, we in entity_spans(tags):
            start, end = offsets[ws][1], offsets[we - 1][2]
            entities.append(dict(text=text[start:end], type=etype, start=start, end=end,
                                 word_start=ws, word_end=we,
                                 score=round(sum(tag_scores[ws:we]) / (we - ws), 4)))
        has_image = all(bool(o.has_image) for o in outputs)
        result = dict(text=text, image=image, has_image=has_image, **self.caption_fields(item), words=words,
                      tags=tags, tag_scores=tag_scores, entities=entities)
        if 'id' in item:
            result = dict(id=item['id'], **result)
        if len(prepared['windows']) > 1:
            result['windows'] = len(prepared['windows'])
        note = self.notes(item, has_image)
        if note:
            result['note'] = note
        if self.grounder is not None and has_image and entities:
            regions = self.grounder.ground(image, entities)
            for entity, region in zip(entities, regions):
                entity['region'] = region
        return result
