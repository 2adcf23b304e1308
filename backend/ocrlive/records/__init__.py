"""Documents as records: search, revisions of corrected lines, the review queue, exports.

Above store/ (it reads through `Database` and writes on the writer's connection inside
the journal's transaction), below tasks/ and http/.
"""
