"""The task lifecycle: the registry (TaskManager) and its journal, the queue, the runner
(Runner), progress coalescing and retention."""
