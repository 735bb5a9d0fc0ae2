"""Any ONNX object detector, described by a small spec in the config."""
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from pmu.registry import DETECTORS
from ..paths import find_model_file, load_class_names
from ..structures import Detections
from .base import BaseObjectDetector, ImageInput

_CORNERS = ('x1', 'y1', 'x2', 'y2')
_CENTRES = ('cx', 'cy', 'w', 'h')


@DETECTORS.register_module()
class OnnxDetector(BaseObjectDetector):
    """Run an ONNX detector with onnxruntime.

    The model must output boxes after non-maximum suppression, one row per box
    (CenterNet, YOLO exported with NMS, e.g. Ultralytics ``export(format='onnx',
    nms=True)``). The spec says how to feed and read it:

    Args:
        model_path: the ``.onnx`` file, resolved by :func:`find_model_file`.
        class_names: ``'coco80'``, a ``.txt`` file or a list; the output's class
            column indexes it.
        input_size: ``(height, width)`` the model takes.
        input_layout: ``'NHWC'`` or ``'NCHW'``.
        channel_order: ``'RGB'`` or ``'BGR'``.
        scale, mean, std: the input is ``(pixel * scale - mean) / std``, pixels
            0..255 (e.g. ``scale=1/255`` for 0..1 inputs).
        keep_ratio: False stretches the image to ``input_size``; True scales it
            to fit and pads (``pad_value``) at the bottom/right, or around it
            with ``pad_center=True`` (YOLO's letterbox).
        columns: the meaning of each output column; boxes either as
            ``x1, y1, x2, y2`` or ``cx, cy, w, h``, plus ``score`` and ``class``;
            other names (e.g. ``'_'``) are ignored.
        box_units: ``'input_pixels'`` (of the resized input) or ``'normalized'`` (0..1).
        output_name: which output holds the rows (default: the first). Its
            shape is ``[batch, num_boxes, num_columns]`` or, with
            ``transpose_output=True``, ``[batch, num_columns, num_boxes]``.
        num_threads: onnxruntime intra-op threads (0: onnxruntime's default).
        allow_spinning: let onnxruntime's idle threads spin after each run
            (its default). Off by default here: the preparation alternates the
            detector with spaCy in the same process, and spinning threads take
            the cores spaCy and other jobs need (measured on 2 shared cores:
            detector + spaCy 8-24% faster without).
    """

    def __init__(self,
                 model_path: str,
                 class_names: Union[str, Sequence[str]] = 'coco80',
                 input_size: Tuple[int, int] = (512, 512),
                 input_layout: str = 'NHWC',
                 channel_order: str = 'RGB',
                 scale: float = 1.0,
                 mean: Sequence[float] = (0., 0., 0.),
                 std: Sequence[float] = (1., 1., 1.),
                 keep_ratio: bool = False,
                 pad_center: bool = False,
                 pad_value: float = 114.,
                 columns: Sequence[str] = ('x1', 'y1', 'x2', 'y2', 'score', 'class'),
                 box_units: str = 'input_pixels',
                 output_name: Optional[str] = None,
                 transpose_output: bool = False,
                 num_threads: int = 0,
                 allow_spinning: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        import onnxruntime as ort
        self.model_path = find_model_file(model_path)
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        options.add_session_config_entry('session.intra_op.allow_spinning', '1' if allow_spinning else '0')
        self.session = ort.InferenceSession(
            self.model_path, options, providers=['CPUExecutionProvider'])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # A fixed first dimension (e.g. 1) means the graph takes one image at a time.
        self.max_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        self.output_name = output_name or self.session.get_outputs()[0].name
        self.class_names = load_class_names(class_names)
        if input_layout not in ('NHWC', 'NCHW'):
            raise ValueError(f"input_layout must be 'NHWC' or 'NCHW', not {input_layout!r}")
        if channel_order not in ('RGB', 'BGR'):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', not {channel_order!r}")
        if box_units not in ('input_pixels', 'normalized'):
            raise ValueError(f"box_units must be 'input_pixels' or 'normalized', not {box_units!r}")
        columns = list(columns)
        if set(_CORNERS) <= set(columns):
            self.box_columns, self.centre_boxes = [columns.index(c) for c in _CORNERS], False
        elif set(_CENTRES) <= set(columns):
            self.box_columns, self.centre_boxes = [columns.index(c) for c in _CENTRES], True
        else:
            raise ValueError(f'columns {columns} name no box: give x1, y1, x2, y2 or cx, cy, w, h')
        for required in ('score', 'class'):
            if required not in columns:
                raise ValueError(f"columns {columns} lack '{required}'")
        self.score_column, self.class_column = columns.index('score'), columns.index('class')
        self.num_columns = len(columns)
        self.input_size = tuple(input_size)
        self.input_layout, self.channel_order = input_layout, channel_order
        self.scale = scale
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.keep_ratio, self.pad_center, self.pad_value = keep_ratio, pad_center, pad_value
        self.box_units, self.transpose_output = box_units, transpose_output

    @property
    def name(self) -> str:
        return f'OnnxDetector({self.model_path})'

    def _preprocess(self, image: Image.Image):
        """Resized, padded, normalised array plus (scale_x, scale_y, pad_x, pad_y) to map boxes back."""
        in_h, in_w = self.input_size
        w, h = image.size
        if self.keep_ratio:
            ratio = min(in_w / w, in_h / h)
            new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
            pad_x = (in_w - new_w) // 2 if self.pad_center else 0
            pad_y = (in_h - new_h) // 2 if self.pad_center else 0
            canvas = np.full((in_h, in_w, 3), self.pad_value, np.float32)
            canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = np.asarray(
                image.resize((new_w, new_h), Image.BILINEAR), np.float32)
            geometry = (new_w / w, new_h / h, pad_x, pad_y)
        else:
            canvas = np.asarray(image.resize((in_w, in_h), Image.BILINEAR), np.float32)
            geometry = (in_w / w, in_h / h, 0, 0)
        if self.channel_order == 'BGR':
            canvas = canvas[..., ::-1]
        # in place, and only the steps that change something (most models take 0..255 as is)
        if not canvas.flags.writeable:
            canvas = canvas.copy()
        if self.scale != 1.0:
            canvas *= self.scale
        if self.mean.any():
            canvas -= self.mean
        if (self.std != 1.0).any():
            canvas /= self.std
        if self.input_layout == 'NCHW':
            canvas = canvas.transpose(2, 0, 1)
        return np.ascontiguousarray(canvas, np.float32), geometry

    def _detect(self, images: Sequence[ImageInput]) -> List[Detections]:
        arrays, geometries = zip(*(self._preprocess(img.image) for img in images))
        step = self.max_batch or len(arrays)
        rows = []
        for start in range(0, len(arrays), step):
            batch = np.stack(arrays[start:start + step])
            out = self.session.run([self.output_name], {self.input_name: batch})[0]
            rows.extend(out.transpose(0, 2, 1) if self.transpose_output else out)
        return [self._decode(r, g) for r, g in zip(rows, geometries)]

    def _decode(self, rows: np.ndarray, geometry) -> Detections:
        if rows.ndim != 2 or rows.shape[1] != self.num_columns:
            raise ValueError(f'{self.model_path}: output rows of shape {rows.shape} do not match the '
                             f'{self.num_columns} configured columns')
        boxes = rows[:, self.box_columns].astype(np.float32)
        if self.centre_boxes:
            cx, cy, bw, bh = boxes.T
            boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        if self.box_units == 'normalized':
            boxes *= np.array([self.input_size[1], self.input_size[0]] * 2, np.float32)
        sx, sy, px, py = geometry
        boxes = (boxes - np.array([px, py, px, py], np.float32)) / np.array([sx, sy, sx, sy], np.float32)
        labels = rows[:, self.class_column].round().astype(np.int64)
        scores = rows[:, self.score_column]
        # Padding rows of fixed-size outputs carry class -1 or out-of-range ids.
        valid = (labels >= 0) & (labels < len(self.class_names))
        return Detections(boxes[valid], scores[valid], labels[valid], self.class_names)
