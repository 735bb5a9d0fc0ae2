import numpy as np
import torch

from pmu.registry import TRANSFORMS
from pmu.structures import PMUDataSample


@TRANSFORMS.register_module()
class PackMultimodalInputs:
    """Pack a sample into ``dict(inputs=..., data_samples=PMUDataSample)``.

    ``inputs`` holds ``input_ids`` (LongTensor), ``token_type_ids`` (LongTensor
    when the sample has a caption segment for a model with segment embeddings,
    else ``None``), ``img`` (uint8 CHW tensor, or ``None`` when the sample
    has no image) and ``caption_ids`` (LongTensor of a caption encoded apart
    from the post, ``TokenizeWords(caption_segment='separate')``, else ``None``).

    Args:
        meta_keys: copied into the data sample's metainfo.
        data_keys: copied into the data sample as data fields when present.
    """

    def __init__(self,
                 meta_keys=('sample_idx', 'img_id', 'img_path', 'has_image', 'words',
                            'word_ids', 'ori_shape', 'image_caption', 'caption_status'),
                 data_keys=('gt_tags', 'head', 'tail', 'gt_relation')):
        self.meta_keys = meta_keys
        self.data_keys = data_keys

    def __call__(self, results: dict) -> dict:
        img = results.get('img')
        if img is not None:
            img = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        types = results.get('token_type_ids')
        inputs = dict(
            input_ids=torch.tensor(results['input_ids'], dtype=torch.long), img=img,
            token_type_ids=None if types is None else torch.tensor(types, dtype=torch.long),
            caption_ids=None if results.get('caption_ids') is None else torch.tensor(results['caption_ids'],
                                                                                    dtype=torch.long))
        sample = PMUDataSample(
            metainfo={k: results[k]
                      for k in self.meta_keys if k in results})
        for k in self.data_keys:
            if k in results:
                sample.set_field(results[k], k)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self):
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
