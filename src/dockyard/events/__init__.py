"""The transactional outbox: what happened, written in the transaction of the change it describes,
handed to the handlers the composition root registers (``dockyard/services.py``).

    Event(kind, payload, actor)          a record; ``payload`` is JSON (names, digests, ids)
    add(conn, event)                     write it inside the caller's open transaction
    Dispatcher(database, clock)          claims pending rows, runs every handler of each row's
                                         kind in that same transaction, deletes the rows

This package knows no domain: kinds are strings the owners define (the registry's are in
``dockyard/registry/events.py``), and handlers are plain ``(conn, event) -> None`` functions.
"""

from dockyard.events.dispatcher import Dispatcher, Handler
from dockyard.events.outbox import Event, add

__all__ = ["Dispatcher", "Event", "Handler", "add"]
