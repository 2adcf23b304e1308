"""The OCR side: documents, the PaddleOCR engine and the worker pool.

Nothing here knows about the database or WebSockets: the engine only reports
progress through a sink, and the runner (ocrlive.tasks.runner) stores and
publishes it.
"""
