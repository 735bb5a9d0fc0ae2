"""The relation between two entities of a new post with a trained ``MultimodalRE`` model."""
from typing import List

from .base import PostInferencer, char_span, word_span


class MREInferencer(PostInferencer):
    """Relation between a head and a tail entity of a post, from a ``MultimodalRE`` config and weights.

    An input is ``{'text', 'image', 'head', 'tail'}``; ``head`` and ``tail``
    are an entity string (its first occurrence in the text) or a character
    span ``{'start': s, 'end': e}`` / ``[s, e]``. The entity covers every
    word the span touches.

    >>> re_ = MREInferencer('configs/mre/promu_minilm-effnet_mnre.py', 'work_dirs/...')
    >>> re_({'text': 'RT @WLWT: Bill Cosby's star on Hollywood Walk of Fame vandalized',
    ...      'head': 'Bill Cosby', 'tail': 'Hollywood Walk of Fame', 'image': None})
    {'relation': '/per/misc/present_in', 'score': 0.91, 'scores': {...}, 'head': {...}, ...}

    ``score`` is the probability of ``relation``, ``scores`` those of every
    relation of the model. A post longer than ``max_length`` sub-words is cut
    to a window around the two entities (as in training); the result then
    says how many words were left out (``cropped_words``).
    """
    model_type = 'MultimodalRE'
    task = 'mre'

    def _check_input(self, item, where: str) -> dict:
        item = super()._check_input(item, where)
        for key in ('head', 'tail'):
            if key not in item:
                raise ValueError(f'{where}: an MRE input needs "head" and "tail" (entity string, '
                                 '{"start", "end"} or [start, end])')
        return item

    def prepare(self, item: dict) -> dict:
        text, image, where = item['text'], item.get('image'), item['where']
        offsets = self.post_tokenizer(text)
        words = [w for w, _, _ in offsets]
        spans = {}
        for key in ('head', 'tail'):
            start, end = char_span(text, item[key], where, key)
            spans[key] = dict(chars=(start, end), words=word_span(offsets, start, end, where, key))
        sample = dict(words=words, tokens=list(words), head=spans['head']['words'],
                      tail=spans['tail']['words'], img_path=image, image_caption=self.caption_of(item),
                      has_image=image is not None and self.uses_images, sample_idx=0)
        return dict(item=item, offsets=offsets, spans=spans, samples=[sample])

    # forward: BaseInferencer's, the model's test_step (pred_relation, pred_scores)
    def make_result(self, post: dict, samples: List) -> dict:
        """The post's relation from its data sample (``pred_relation``, ``pred_scores``)."""
        sample = samples[0]
        item, offsets = post['item'], post['offsets']
        text, image = item['text'], item.get('image')
        has_image, cropped = bool(sample.has_image), int(sample.get('num_cropped_words', 0))
        ents = {}
        for key, span in post['spans'].items():
            ws, we = span['words']
            start, end = offsets[ws][1], offsets[we - 1][2]
            ents[key] = dict(text=text[start:end], start=start, end=end, word_start=ws, word_end=we)
        scores = {r: round(p, 4) for r, p in zip(self.model.relations, sample.pred_scores.tolist())}
        relation = sample.pred_relation
        result = dict(text=text, image=image, has_image=has_image, **self.caption_fields(item),
                      head=ents['head'], tail=ents['tail'], relation=relation, score=scores[relation],
                      scores=scores)
        if 'id' in item:
            result = dict(id=item['id'], **result)
        if cropped:
            result['cropped_words'] = cropped
            self.logger.info(f'{item["where"]}: post longer than max_length={self.max_length}: '
                             f'{cropped} words outside the window around the entities')
        note = self.notes(item, has_image)
        if note:
            result['note'] = note
        return result
