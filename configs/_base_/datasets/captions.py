# Captions that published captioners generated from the benchmarks' real images
# (../shared/data/captions; where they come from and what they show: docs/captions.md).
# A dataset takes one as `captions=...`; TokenizeWords then encodes it as the second segment.
# Keys: <dataset>_<captioner>; MNRE's captions come per split.
__colon, __json, __dict = 'colon', 'json', 'dict_lines'
captions = dict(
    twitter2015_blip2=dict(type='CaptionFile', path='captions/twitter2015_blip2.txt', format=__colon, name='BLIP-2'),
    twitter2015_catr=dict(type='CaptionFile', path='captions/twitter2015_catr.json', format=__json, name='CATR'),
    twitter2017_blip2=dict(type='CaptionFile', path='captions/twitter2017_blip2.txt', format=__colon, name='BLIP-2'),
    twitter2017_catr=dict(type='CaptionFile', path='captions/twitter2017_catr.json', format=__json, name='CATR'),
)
for __name, __label in (('blip', 'BLIP'), ('instructblip', 'InstructBLIP'), ('cogvlm', 'CogVLM'),
                        ('llavanext', 'LLaVA-NeXT'), ('minicpm', 'MiniCPM-V')):
    captions[f'mnre_{__name}'] = {
        split: dict(type='CaptionFile', path=f'captions/mnre_{__name}_{split}.txt', format=__dict, name=__label)
        for split in ('train', 'val', 'test')}
