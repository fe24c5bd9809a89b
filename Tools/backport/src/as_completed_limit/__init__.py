"""asyncio.as_completed(fs, *, timeout=None, limit=None) for Python 3.11 on.

With limit, fs is read lazily and at most limit awaitables are in flight.
On a Python whose asyncio.as_completed() takes limit, this is that function.
"""

import asyncio
import inspect

__all__ = ('as_completed',)
__version__ = '0.1.0'

if 'limit' in inspect.signature(asyncio.as_completed).parameters:
    from asyncio import as_completed
else:
    from ._tasks import as_completed
