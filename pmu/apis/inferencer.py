"""Running a trained MNER model on new posts."""
import re
from typing import List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from pmu.structures import entity_spans
from pmu.utils.checkpoint import load_checkpoint_file
from pmu.registry import MODELS

# URLs, @mentions and #hashtags stay whole, as in the Twitter datasets' tokens.
_TOKEN = re.compile(r"https?://\S+|[@#]?\w+(?:['’]\w+)*|[^\w\s]")


def tokenize_post(text: str) -> List[str]:
    return _TOKEN.findall(text)


class MNERInferencer:
    """Config + checkpoint → entities of new posts (text and an optional image).

    >>> ner = MNERInferencer('configs/mner/promu_minilm-effnet_twitter2017.py', 'best.pth')
    >>> ner('Kawhi Leonard wins the NBA fan vote', image='post.jpg')
    {'words': [...], 'tags': [...], 'entities': [{'text': 'Kawhi Leonard', 'type': 'PER', ...}],
     'has_image': True}
    """

    def __init__(self, config: Union[str, Config], checkpoint: Optional[str] = None,
                 device: str = 'cpu'):
        from pmu.utils import register_all_modules
        register_all_modules()
        from pmu.apis.config import complete_config
        cfg = complete_config(Config.fromfile(config) if isinstance(config, str) else config)
        self.model = MODELS.build(cfg.model)
        if checkpoint:
            state = load_checkpoint_file(checkpoint)
            self.model.load_state_dict(state.get('state_dict', state))
        else:
            self.model.init_weights()
        self.model.to(device).eval()
        self.pipeline = Compose(cfg.test_dataloader.dataset.pipeline)

    @torch.no_grad()
    def __call__(self, text: Union[str, Sequence[str]], image: Optional[str] = None) -> dict:
        words = tokenize_post(text) if isinstance(text, str) else list(text)
        if not words:
            raise ValueError('the post has no tokens')
        item = self.pipeline(dict(words=words, img_path=image, has_image=image is not None,
                                  sample_idx=0))
        batch = self.model.data_preprocessor(pseudo_collate([item]), False)
        sample = self.model(**batch, mode='predict')[0]
        tags = sample.pred_tags
        entities = [dict(text=' '.join(words[s:e]), type=t, start=s, end=e)
                    for t, s, e in entity_spans(tags)]
        return dict(words=words, tags=tags, entities=entities, has_image=bool(sample.has_image))
