"""The package around the generated module (written by hand)."""

import asyncio
import unittest
from unittest import mock

from as_completed_limit import _tasks


class PackageTests(unittest.TestCase):
    def test_in_asyncios_place(self):
        # A program may put the backport in asyncio's place: without a
        # limit it still runs the stdlib's as_completed() from 3.13 on (taken
        # at import), or 3.13's class before.
        async def main():
            it = asyncio.as_completed([asyncio.sleep(0, 'a')])
            return [await f for f in it]

        with mock.patch.object(asyncio, 'as_completed', _tasks.as_completed):
            self.assertEqual(asyncio.run(main()), ['a'])


if __name__ == '__main__':
    unittest.main()
