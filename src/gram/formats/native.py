"""gram's own rows (pairs or response sets; see gram.records), as `gram data convert` writes them and
`gram score` reads them (JSONL); `gram data convert --format gram` reads them from JSON, parquet and CSV
too."""

from ..records import record_from_row
from .base import Item, register
from .hub import dataset_items


@register("gram", "pairs", "gram rows (JSONL, JSON, parquet, CSV): pairs (prompt, response_a, response_b, "
          "label) or sets (responses)", items=dataset_items)
def gram_rows(item: Item):
    row = item.obj()
    return [record_from_row(row, item.path, item.line, None if item.line is not None else item.index)]
