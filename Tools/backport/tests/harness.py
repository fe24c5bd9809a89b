"""What the generated tests take from the running interpreter's test_tasks
around them (its BaseTaskTests, whose tests they must not inherit), and
what some versions lack."""

import asyncio
import inspect

from test import support
from test.test_asyncio import test_tasks
from test.test_asyncio.test_tasks import coroutine_function  # noqa: F401


class BaseTaskTests:
    # Set by each subclass: the Task and Future implementations under test.
    Task = None
    Future = None

    new_task = test_tasks.BaseTaskTests.new_task
    new_future = test_tasks.BaseTaskTests.new_future

    def setUp(self):  # test_tasks' own calls super() of its class.
        super().setUp()
        self.loop = self.new_test_loop()
        self.loop.set_task_factory(self.new_task)
        self.loop.create_future = lambda: self.new_future(self.loop)


def eager_task_factories(task_class):
    """An eager factory of task_class, from 3.12 on, where eager tasks are."""
    if not hasattr(asyncio, 'create_eager_task_factory'):
        return []
    return [asyncio.create_eager_task_factory(task_class)]


def get_recursion_depth():
    """test.support's, or the number of frames where it lacks it (Debian's
    3.11.2)."""
    if hasattr(support, 'get_recursion_depth'):
        return support.get_recursion_depth()
    return len(inspect.stack(0)) - 1
