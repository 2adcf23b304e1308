"""The task lifecycle: the registry (OcrProgressManager), the queue and the runner."""
