import json
import os
import os.path as osp
import struct
import subprocess
import sys
import zlib

import pytest

from pmu.pseudo_labels.paths import find_model_file
from pmu.utils.paths import find_data_root
from tests.conftest import write_jsonl  # noqa: F401  (imported by the tests from here)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs', 'prepare')
ONNX_CONFIG = osp.join(CONFIGS, 'prepare_onnx-centernet_spacy_coco-mini.py')
ANNOTATION_CONFIG = osp.join(CONFIGS, 'prepare_annotations_spacy_coco-mini.py')


@pytest.fixture(scope='session')
def onnx_model():
    return osp.abspath(find_model_file('centernet-mobilenetv3-coco.onnx'))


@pytest.fixture(scope='session')
def val_images(coco_mini):
    folder = osp.join(coco_mini, 'val2017')
    return [osp.join(folder, f) for f in sorted(os.listdir(folder))]


def png_header_only(path, width, height):
    """A PNG whose header claims ``width x height`` (no pixel data): a huge image
    without the memory of one, as PIL reads the size before any pixel."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IEND', b''))
    return str(path)


def tool_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('PMU_DATA_ROOT', osp.abspath(find_data_root()))
    env.setdefault('PMU_MODEL_ROOT', osp.dirname(osp.abspath(find_model_file('centernet-mobilenetv3-coco.onnx'))))
    env['OMP_NUM_THREADS'] = '1'  # two processes share the two CPU cores of CI
    return env


def run_tool(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', 'prepare_pretrain.py'), *map(str, args)],
                          env=env or tool_env(), capture_output=True, text=True, cwd=REPO, **kwargs)


def read_records(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f]
