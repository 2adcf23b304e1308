"""Documents as records: search, revisions of corrected lines, the review queue, the
patient view, exports.

Between tasks/ and store/: a line edit is made inside the event log's transaction
(store/base.py `Revision`, through TaskManager.edit_line); search and the record reads
are protocols (base.py) with a SQLite backend (sqlite.py) beside the task store.
"""
