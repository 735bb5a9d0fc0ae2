#!/usr/bin/env python
"""Packaging for pmu, in the shape of OpenMMLab's setup.py files.

Metadata lives here, the version in ``pmu/version.py`` and the requirements in
``requirements/*.txt`` (one file per extra); pyproject.toml keeps only the
build system and pytest's settings.

``configs/`` and the ``tools/*.py`` scripts are reachable from an installed
package as ``pmu/.mim/{configs,tools}``, where OpenMMLab's ``mim`` looks for
them and ``pmu.utils.get_config_path`` finds them: in an editable install
(``pip install -e .``) they are symlinks into this checkout, so edits show at
once; in a wheel (``pip install .``) they are copies.
"""
import fnmatch
import os
import os.path as osp
import re
import shutil
import warnings

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
# pmu/.mim/<name> mirrors <checkout>/<name>; a copy keeps the files that match
# (all of configs/, whatever its layout; the scripts of tools/, not its .sh)
MIM_FOLDERS = {'configs': ('*', ), 'tools': ('*.py', )}
PACKAGE_DATA = {'pmu': ['pseudo_labels/resources/*.txt']}


def get_version():
    version_file = osp.join(ROOT, 'pmu', 'version.py')
    namespace = {}
    with open(version_file, encoding='utf-8') as f:
        exec(compile(f.read(), version_file, 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname):
    """The requirement strings in ``requirements/<fname>``.

    Comments and blank lines are skipped; ``-r other.txt`` includes another
    file of the same folder.
    """
    requirements = []
    with open(osp.join(ROOT, 'requirements', fname), encoding='utf-8') as f:
        for line in f:
            line = re.sub(r'(^|\s)#.*', '', line).strip()
            if not line:
                continue
            if line.startswith('-r '):
                requirements += parse_requirements(line[len('-r '):].strip())
            else:
                requirements.append(line)
    return requirements


def get_extras():
    """``pip install pmu[<extra>]``: one requirements file each, and all."""
    extras = {
        name: parse_requirements(f'{name}.txt')
        for name in ('tests', 'mmdet', 'tensorboard')
    }
    extras['all'] = [req for reqs in extras.values() for req in reqs]
    return extras


def _remove(path):
    if osp.islink(path) or osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        shutil.rmtree(path)


def _copy_folder(src, dst, patterns):
    """Copy the files of ``src`` that match ``patterns``, sub-folders kept."""

    def ignore(folder, names):
        return [
            n for n in names
            if n == '__pycache__' or n.endswith('.pyc') or (
                not osp.isdir(osp.join(folder, n))
                and not any(fnmatch.fnmatch(n, p) for p in patterns))
        ]

    shutil.copytree(src, dst, ignore=ignore)


def add_mim_extension(mim_dir, mode):
    """Fill ``mim_dir`` (``.../pmu/.mim``) from this checkout.

    ``mode='symlink'`` links each folder (relative links, so the checkout may
    move; a copy where links are not allowed); ``mode='copy'`` copies it.
    """
    os.makedirs(mim_dir, exist_ok=True)
    for name, patterns in MIM_FOLDERS.items():
        src = osp.join(ROOT, name)
        dst = osp.join(mim_dir, name)
        if not osp.isdir(src):
            raise FileNotFoundError(
                f'{src} is missing: pmu/.mim/{name} is built from it (an '
                'sdist must carry it, see MANIFEST.in)')
        if mode == 'symlink':
            target = osp.relpath(src, mim_dir)
            if osp.islink(dst) and os.readlink(dst) == target:
                continue
            _remove(dst)
            try:
                os.symlink(target, dst, target_is_directory=True)
                continue
            except OSError:  # e.g. Windows without developer mode
                pass
        else:
            _remove(dst)
        _copy_folder(src, dst, patterns)


class BuildPyWithMim(build_py):
    """build_py that also provides ``pmu/.mim`` (see the module docstring)."""

    def run(self):
        super().run()
        if self.editable_mode:
            # the editable install imports pmu/ of this checkout in place
            add_mim_extension(osp.join(ROOT, 'pmu', '.mim'), 'symlink')
        else:
            add_mim_extension(
                osp.join(self.build_lib, 'pmu', '.mim'), 'copy')


if __name__ == '__main__':
    from setuptools.warnings import InformationOnly

    # setuptools' editable install notes, as a warning, that a pmu/ folder in
    # the working directory could shadow the installed package; here that
    # folder *is* the installed package, so the note only adds noise.
    warnings.filterwarnings(
        'ignore', message='Editable installation', category=InformationOnly)

    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        long_description = f.read()

    setup(
        name='pmu',
        version=get_version(),
        description='Prompt Me Up: alignment pre-training and fine-tuning for '
        'multimodal NER and relation extraction',
        long_description=long_description,
        long_description_content_type='text/markdown',
        keywords='multimodal, named entity recognition, relation extraction, '
        'pre-training, openmmlab',
        license_expression='Apache-2.0',
        classifiers=[
            'Development Status :: 3 - Alpha',
            'Operating System :: OS Independent',
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        python_requires='>=3.9',
        packages=find_packages(include=['pmu', 'pmu.*']),
        package_data=PACKAGE_DATA,
        install_requires=parse_requirements('runtime.txt'),
        extras_require=get_extras(),
        cmdclass={'build_py': BuildPyWithMim},
    )
