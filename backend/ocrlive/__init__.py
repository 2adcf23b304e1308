"""ocrlive: OCR of patient documents with live progress over WebSocket."""

__version__ = "0.1.0"
