"""Pure, typed stage functions: text in, result out, no I/O.

The Faust agents in ``agents/`` and the offline ``newsflow enrich`` command call the same functions
in the same order (see ``pipeline.enrich``), so what is measured offline is what runs in the stream.
"""

__version__ = "0.1.0"
