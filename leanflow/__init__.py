"""The `leanflow` command: the composition root that reads settings and wires engine and storage.

It is the only package that reads the environment; engine/ and storage/ get settings passed in.
"""
