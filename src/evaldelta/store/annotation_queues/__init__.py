"""Annotation queues, the same on both stores: queues of runs for people to review.

A queue has a rubric (instructions, and the feedback keys a reviewer scores); its items are
runs, each at most once per queue (adding a run again keeps its item), in the order they
were added.  A reviewer marks an item done; the item is *completed* once as many reviewers
as the queue's ``num_reviewers_per_item`` have.  A reviewer is named by the prefix of the
API key they call with (``evd_`` and four characters, what ``evaldelta keys`` shows).
Their scores are ordinary feedback on the run.

Each backend only says how it writes and deletes rows of the three tables
(``annotation_queues``, ``annotation_queue_runs``, ``annotation_queue_reviews``); the rules
and the reads are here, over the dialect.
"""

from evaldelta.store.annotation_queues.store import AnnotationQueueStore

__all__ = ["AnnotationQueueStore"]
