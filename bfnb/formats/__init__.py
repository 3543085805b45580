"""Pure data formats: text and bytes to records and back, with no DataFrames and no graphs.

``markdown`` (published as ``bf.markdown``) reads and writes heading-keyed lines and sections,
``jsonl`` encodes any field value losslessly as JSON and reads JSONL strictly, ``txt`` reads a
folder of text files, and ``atomic`` makes every write all-or-nothing. Ops in ``bfnb.op`` call
these when they run; nothing here imports pandas.
"""

from . import atomic, jsonl, markdown, txt

__all__ = ["atomic", "jsonl", "markdown", "txt"]
