"""What the generated tests take from test_tasks around them: the setup of
its BaseTaskTests, its coroutine_function, and what some versions lack."""

import asyncio
import inspect

from test import support


async def coroutine_function():
    pass


class BaseTaskTests:
    # Set by each subclass: the Task and Future implementations under test.
    Task = None
    Future = None

    def new_task(self, loop, coro, name='TestTask', context=None):
        return self.__class__.Task(coro, loop=loop, name=name, context=context)

    def new_future(self, loop):
        return self.__class__.Future(loop=loop)

    def setUp(self):
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
