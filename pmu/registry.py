"""All registries of pmu, children of MMEngine's roots.

``locations`` lets a config build a component without the caller importing the
module that defines it: building ``dict(type='CRFTaggingHead')`` from
``pmu.registry.MODELS`` imports ``pmu.models`` first.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['pmu.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['pmu.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['pmu.datasets.transforms'])

MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['pmu.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['pmu.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, locations=['pmu.models'])

OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, locations=['pmu.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['pmu.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['pmu.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['pmu.engine'])
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['pmu.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['pmu.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['pmu.engine'])

METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['pmu.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, locations=['pmu.evaluation'])

VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, locations=['pmu.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, locations=['pmu.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMENGINE_LOG_PROCESSORS, locations=['pmu.engine'])

# Roots of pmu's own: object detectors that produce pseudo-label boxes, candidate
# entity finders that list the phrases of a caption that may name something in
# its image, prompt template sets, and caption sources.
DETECTORS = Registry('detector', locations=['pmu.pseudo_labels'])
ENTITY_FINDERS = Registry('entity finder', locations=['pmu.pseudo_labels'])
PROMPTS = Registry('prompt template set', locations=['pmu.pseudo_labels'])
# Sources of image-derived text: captions of the posts' images, keyed by image file name.
CAPTIONS = Registry('caption source', locations=['pmu.datasets'])
