# Pseudo-label inputs for Flickr8k (8,091 photos, 40,455 captions: 100x COCO-mini) with the offline
# ONNX CenterNet detector and spaCy en_core_web_sm, on CPU: the COCO-mini config with another corpus.
# Sharded and resumable like it (docs/pseudo_labels.md):
#   python tools/prepare_pretrain.py configs/prepare/prepare_onnx-centernet_spacy_flickr8k.py [--resume]
#   torchrun --nproc_per_node 4 tools/prepare_pretrain.py CONFIG --launcher pytorch   # 4 shards
# data_root=None: pmu.utils.find_data_root() ($PMU_DATA_ROOT, ./data, ../shared/data), holding flickr8k/
# with captions.txt, the split files and Images/. The original distribution's Flickr8k.token.txt reads
# too (the layout is detected): set each entry's ann_file, and data_prefix.img to its Flicker8k_Dataset/. All three
# splits go into one cache; the pre-training configs select theirs with
# `image_list` (the split file). Entry 0 (train) is what tools/misc/mine_vocabulary.py mines.
_base_ = './prepare_onnx-centernet_spacy_coco-mini.py'

__flickr8k = dict(type='Flickr8kCaptionPairs', data_root=None, ann_file='flickr8k/captions.txt',
                  data_prefix=dict(img='flickr8k/Images'))
dataset = [
    dict(**__flickr8k, split_file='flickr8k/Flickr_8k.trainImages.txt'),  # 6,091 photos, 30,455 captions
    dict(**__flickr8k, split_file='flickr8k/Flickr_8k.devImages.txt'),  # 1,000 / 5,000
    dict(**__flickr8k, split_file='flickr8k/Flickr_8k.testImages.txt'),  # 1,000 / 5,000: retrieval test
]

# Both vocabularies mined from the train captions alone and shipped with pmu
# (pmu/pseudo_labels/resources, `entry<TAB>count`; tools/misc/mine_vocabulary.py remakes them), so the
# test captions stay out of the label space: 1000 entities; 1000 relation phrases (pmu's 118 names,
# then the most frequent verb phrases). Without `file`, the entity vocabulary is built from the cache.
entity_vocab = dict(file='flickr8k-train_entity_vocab.txt', max_size=1000, min_count=1)
relation_vocab = dict(file='flickr8k-train_relation_vocab.txt', max_size=-1)

# 8,091 photos: measured 4.8 photos/s (24 captions/s) on 2 shared CPU cores, about 30 minutes in one
# process; shard it to go faster.
prepare = dict(batch_size=64)
