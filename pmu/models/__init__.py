from .captioners import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .fusion import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .pretrainers import *  # noqa: F401,F403
from .task_models import *  # noqa: F401,F403
