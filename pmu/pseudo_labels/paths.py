"""Where detector weights and class-name lists are found."""
import os
import os.path as osp
from typing import List, Sequence, Union

RESOURCES = osp.join(osp.dirname(__file__), 'resources')


def find_model_file(path: str) -> str:
    """Resolve a detector file name the way configs name it.

    An existing path is returned as is; otherwise ``path`` is looked up in
    ``$PMU_MODEL_ROOT``, then ``./models``, then ``../shared/models`` (the
    layout of pmu's CI and development machines), so configs need not carry
    machine-specific absolute paths.
    """
    if osp.exists(path):
        return path
    roots = [os.environ.get('PMU_MODEL_ROOT'), 'models', osp.join('..', 'shared', 'models')]
    tried = []
    for root in filter(None, roots):
        candidate = osp.join(root, path)
        tried.append(candidate)
        if osp.exists(candidate):
            return candidate
    raise FileNotFoundError(
        f"Model file '{path}' not found; tried {[path] + tried}. Set PMU_MODEL_ROOT to the folder "
        'that holds it or give an absolute path in the config.')


def load_class_names(names: Union[str, Sequence[str]]) -> List[str]:
    """``'coco80'`` (a list shipped in ``resources/``), a ``.txt`` file with one name a line, or a list."""
    if isinstance(names, str):
        packaged = osp.join(RESOURCES, f'{names}_classes.txt')
        path = packaged if osp.exists(packaged) else names
        if not osp.exists(path):
            raise FileNotFoundError(f"class_names '{names}' is neither a packaged list "
                                    f'({RESOURCES}/<name>_classes.txt) nor a file')
        with open(path, encoding='utf-8') as f:
            return [line.strip() for line in f if line.strip()]
    return list(names)
