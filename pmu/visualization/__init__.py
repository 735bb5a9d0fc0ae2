"""Pictures and HTML pages of posts: entities, grounded regions, relations, pre-training pairs."""
from .post_visualizer import (PostVisualizer, char_span, entity_label, post_from_words, relation_line,
                              result_from_datasample, type_colour)

__all__ = ['PostVisualizer', 'char_span', 'entity_label', 'post_from_words', 'relation_line',
           'result_from_datasample', 'type_colour']
