"""pmu's import layers, enforced.

    structures, utils (and the package root: registry, version)   0
    datasets | models | evaluation | visualization                  1: none imports another
    pseudo_labels (detectors, candidates, prompts, teacher labels)  2
    engine (hooks, optim wrappers, checkpoint loading for resume)   3
    apis (config handling, inferencers, studies)                    4: may use everything

A lower module importing a higher one (or a middle one its neighbour) fails
here with the file, line and import.
"""
import ast
import json
import os.path as osp
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / 'pmu'
LAYER = {'': 0, 'registry': 0, 'version': 0, 'structures': 0, 'utils': 0,
         'datasets': 1, 'models': 1, 'evaluation': 1, 'visualization': 1,
         'pseudo_labels': 2, 'engine': 3, 'apis': 4}
# register_all_modules() imports every registry location on purpose (MMDetection's pattern), inside
# the function so that importing pmu.utils loads nothing above it (the run-time test checks that).
LAZY_ALLOWED = {'pmu/utils/setup_env.py'}


def _subpackage(module: str) -> str:
    parts = [p for p in module.split('.') if p != '__init__']
    return parts[1] if len(parts) > 1 else ''


def _imports(path: Path):
    """``(line, imported pmu module)`` for every import of ``path``, relative ones resolved."""
    rel = path.relative_to(ROOT).with_suffix('')
    package = list(rel.parts[:-1])  # the package a relative import starts from
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith('pmu'):
                    yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ''
            if name.startswith('pmu'):
                if name == 'pmu':  # from pmu import models
                    for a in node.names:
                        yield node.lineno, f'pmu.{a.name}'
                else:
                    yield node.lineno, name


def _violations():
    found = []
    for path in sorted(PKG.rglob('*.py')):
        own = _subpackage('.'.join(path.relative_to(ROOT).with_suffix('').parts))
        if own not in LAYER:
            found.append(f'{path.relative_to(ROOT)}: subpackage {own!r} has no layer in this test')
            continue
        for line, target in _imports(path):
            other = _subpackage(target)
            if other == own or other not in LAYER:
                continue
            lo, lt = LAYER[own], LAYER[other]
            if str(path.relative_to(ROOT)) in LAZY_ALLOWED:
                continue
            if lt > lo or (lt == lo and lo == 1):
                found.append(f'{path.relative_to(ROOT)}:{line}: pmu.{own} (layer {lo}) imports {target} '
                             f'(layer {lt})')
    return found


def test_no_module_imports_a_higher_layer():
    assert _violations() == []


@pytest.mark.parametrize('module, forbidden', [
    ('pmu.models', ('pmu.engine', 'pmu.pseudo_labels', 'pmu.apis', 'pmu.datasets', 'pmu.evaluation')),
    ('pmu.evaluation', ('pmu.datasets', 'pmu.models', 'pmu.engine', 'pmu.pseudo_labels')),
    ('pmu.datasets', ('pmu.models', 'pmu.engine', 'pmu.evaluation', 'pmu.pseudo_labels')),
    ('pmu.structures', ('pmu.datasets', 'pmu.models', 'pmu.engine', 'pmu.evaluation')),
    ('pmu.utils', ('pmu.datasets', 'pmu.models', 'pmu.engine', 'pmu.evaluation', 'pmu.pseudo_labels')),
    ('pmu.pseudo_labels', ('pmu.engine', 'pmu.apis')),
])
def test_importing_a_layer_loads_nothing_above_it(module, forbidden):
    """The same, at run time: what ``import`` really loads (lazy imports inside functions excluded)."""
    code = (f'import sys, json; import {module}; '
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('pmu'))))")
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    bad = [m for m in loaded if any(m == f or m.startswith(f + '.') for f in forbidden)]
    assert bad == [], f'import {module} loads {bad}'


def test_layer_table_names_every_subpackage():
    subs = {p.name for p in PKG.iterdir() if p.is_dir() and (p / '__init__.py').exists()}
    assert subs <= set(LAYER), sorted(subs - set(LAYER))
    assert osp.isdir(PKG)
