"""The adapter around SpiffWorkflow 3.2: the only engine package that imports it (besides engine.sandbox).

Everything it hands out is a plain dataclass or an opaque runner; no Spiff object leaves engine/.
"""
