# Text-only MRE baseline over the lite text encoder: entity markers, [<s>; <o>] states, MLP.
_base_ = './lite_encoders.py'
# Head and tail markers: special tokens of the tokenizer (the embeddings are resized).
entity_markers = ('<s>', '</s>', '<o>', '</o>')
_tokenize = dict(tokenizer=_base_.text_encoder_name, max_length=_base_.max_length)
train_pipeline = [
    # a post longer than max_length is cut to a window around the entities
    dict(type='InsertEntityMarkers', markers=entity_markers, **_tokenize),
    dict(type='TokenizeWords', extra_special_tokens=entity_markers, **_tokenize),
    dict(
        type='PackMultimodalInputs',
        meta_keys=('sample_idx', 'img_id', 'img_path', 'has_image', 'tokens', 'words',
                   'word_ids', 'head_marker', 'tail_marker', 'head_name', 'tail_name',
                   'num_cropped_words', 'ori_shape')),
]
test_pipeline = train_pipeline
model = dict(
    type='MultimodalRE',
    relations=None,  # set from the dataset config
    data_preprocessor=_base_.data_preprocessor,
    text_encoder=dict(_base_.text_encoder, extra_special_tokens=entity_markers),
    fusion=dict(type='TextOnlyFusion'),
    head=dict(type='RelationClassificationHead', dropout=0.1))
