"""LeanFlow's engine: procedures as BPMN run by SpiffWorkflow, with checks, timers and a hash-chained history.

engine/ may import storage/, SpiffWorkflow (only in engine.spiff and engine.sandbox), lxml, RestrictedPython
and chinesecalendar; never Flask, webui/ or leanflow/, and it never reads the environment: settings come in
as arguments. Callers get plain dataclasses, never Spiff or ORM objects.
"""
