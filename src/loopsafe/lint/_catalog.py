"""Which library calls block, and the few library types the analysis tracks.

Names are fully qualified (``sqlite3.connect``); builtins are spelled ``builtins.open``.
Types are named by the string of their qualified class name (``sqlite3.Connection``).
"""

from __future__ import annotations

from loopsafe.lint.rules import Category

CONNECTION = "sqlite3.Connection"
CURSOR = "sqlite3.Cursor"
FILE = "io.IOBase"
PATH = "pathlib.Path"
REQUESTS_SESSION = "requests.Session"
HTTPX_CLIENT = "httpx.Client"
HTTP_CONNECTION = "http.client.HTTPConnection"
HTTP_RESPONSE = "http.client.HTTPResponse"
POPEN = "subprocess.Popen"
# An in-memory file: reading and writing it never touches the disk. Tracked so that a
# narrower declaration (``_value: io.BytesIO`` in a subclass) wins over ``io.IOBase``.
MEMORY_FILE = "io.BytesIO"
LOOP = "asyncio.AbstractEventLoop"
FUTURE = "asyncio.Future"
TASK = "asyncio.Task"
ASYNC_EVENT = "asyncio.Event"
ASYNC_QUEUE = "asyncio.Queue"
ASYNC_CONDITION = "asyncio.Condition"
ASYNC_LOCK = "asyncio.Lock"
ASYNC_SEMAPHORE = "asyncio.Semaphore"
EXECUTOR = "concurrent.futures.Executor"
DATABASE = "loopsafe.Database"

_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")


def _names(prefix: str, names: tuple[str, ...] | list[str]) -> dict[str, str]:
    return {f"{prefix}.{name}": name for name in names}


BLOCKING_CALLS: dict[str, Category] = {
    "sqlite3.connect": Category.SQLITE,
    "builtins.open": Category.FILE,
    "io.open": Category.FILE,
    **dict.fromkeys(
        _names(
            "os",
            [
                "listdir",
                "scandir",
                "remove",
                "unlink",
                "rename",
                "replace",
                "makedirs",
                "mkdir",
                "rmdir",
                "walk",
                "fsync",
            ],
        ),
        Category.FILE,
    ),
    **dict.fromkeys(
        _names("shutil", ["copy", "copy2", "copyfile", "copytree", "rmtree", "move"]),
        Category.FILE,
    ),
    "time.sleep": Category.SLEEP,
    **dict.fromkeys(_names("requests", _HTTP_VERBS), Category.HTTP),
    **dict.fromkeys(_names("httpx", (*_HTTP_VERBS, "stream")), Category.HTTP),
    "urllib.request.urlopen": Category.HTTP,
    "urllib.request.urlretrieve": Category.HTTP,
    **dict.fromkeys(
        _names(
            "subprocess",
            ["run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"],
        ),
        Category.SUBPROCESS,
    ),
    **dict.fromkeys(_names("os", ["system", "popen", "wait", "waitpid"]), Category.SUBPROCESS),
    # These need the loop's thread: from a worker they race the loop or find no loop.
    **dict.fromkeys(_names("asyncio", ["create_task", "ensure_future"]), Category.LOOP_ONLY),
    "asyncio.get_event_loop": Category.GET_EVENT_LOOP,
    "asyncio.run": Category.RUNS_LOOP,
    "asyncio.set_event_loop": Category.RUNS_LOOP,
}

BLOCKING_METHODS: dict[tuple[str, str], Category] = {
    **{
        (CONNECTION, name): Category.SQLITE
        for name in (
            "execute",
            "executemany",
            "executescript",
            "commit",
            "rollback",
            "close",
            "backup",
            "iterdump",
        )
    },
    **{
        (CURSOR, name): Category.SQLITE
        for name in ["execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall"]
    },
    **{
        (FILE, name): Category.FILE
        for name in ("read", "readline", "readlines", "write", "writelines", "flush")
    },
    **{
        (PATH, name): Category.FILE
        for name in (
            "read_text",
            "read_bytes",
            "write_text",
            "write_bytes",
            "open",
            "touch",
            "unlink",
            "mkdir",
            "rmdir",
            "rename",
            "replace",
            "stat",
            "exists",
            "is_file",
            "is_dir",
            "iterdir",
            "glob",
            "rglob",
        )
    },
    **{(REQUESTS_SESSION, name): Category.HTTP for name in (*_HTTP_VERBS, "send")},
    **{(HTTPX_CLIENT, name): Category.HTTP for name in (*_HTTP_VERBS, "send", "stream")},
    **{(HTTP_CONNECTION, name): Category.HTTP for name in ("connect", "request", "getresponse")},
    **{(HTTP_RESPONSE, name): Category.HTTP for name in ("read", "readline", "readlines")},
    **{(POPEN, name): Category.SUBPROCESS for name in ("wait", "communicate")},
    # Not thread-safe: each schedules on the loop or wakes its waiters without waking the
    # loop's selector. ``call_soon_threadsafe`` is the exception, so it is not listed.
    **{
        (LOOP, name): Category.LOOP_ONLY
        for name in (
            "call_soon",
            "call_later",
            "call_at",
            "create_task",
            "create_future",
            "run_in_executor",
            "add_reader",
            "add_writer",
            "remove_reader",
            "remove_writer",
            "stop",
        )
    },
    (LOOP, "run_forever"): Category.RUNS_LOOP,
    (LOOP, "run_until_complete"): Category.RUNS_LOOP,
    **{
        (FUTURE, name): Category.LOOP_ONLY
        for name in ("set_result", "set_exception", "cancel", "add_done_callback")
    },
    **{(TASK, name): Category.LOOP_ONLY for name in ("cancel", "add_done_callback")},
    **{(ASYNC_EVENT, name): Category.LOOP_ONLY for name in ("set", "clear")},
    **{(ASYNC_QUEUE, name): Category.LOOP_ONLY for name in ("put_nowait", "get_nowait")},
    **{(ASYNC_CONDITION, name): Category.LOOP_ONLY for name in ("notify", "notify_all")},
    (ASYNC_LOCK, "release"): Category.LOOP_ONLY,
    (ASYNC_SEMAPHORE, "release"): Category.LOOP_ONLY,
}

CALL_RETURNS: dict[str, str] = {
    "sqlite3.connect": CONNECTION,
    "builtins.open": FILE,
    "io.open": FILE,
    "pathlib.Path": PATH,
    "pathlib.PosixPath": PATH,
    "pathlib.WindowsPath": PATH,
    "requests.Session": REQUESTS_SESSION,
    "requests.session": REQUESTS_SESSION,
    "httpx.Client": HTTPX_CLIENT,
    "http.client.HTTPConnection": HTTP_CONNECTION,
    "http.client.HTTPSConnection": HTTP_CONNECTION,
    "urllib.request.urlopen": HTTP_RESPONSE,
    "subprocess.Popen": POPEN,
    # A SpooledTemporaryFile rolls over to disk once it grows: not in memory in general.
    "tempfile.SpooledTemporaryFile": FILE,
    "tempfile.TemporaryFile": FILE,
    "tempfile.NamedTemporaryFile": FILE,
    "io.BytesIO": MEMORY_FILE,
    "io.StringIO": MEMORY_FILE,
    "asyncio.get_event_loop": LOOP,
    "asyncio.get_running_loop": LOOP,
    "asyncio.new_event_loop": LOOP,
    "asyncio.Future": FUTURE,
    "asyncio.create_task": TASK,
    "asyncio.ensure_future": TASK,
    "asyncio.Event": ASYNC_EVENT,
    "asyncio.Queue": ASYNC_QUEUE,
    "asyncio.LifoQueue": ASYNC_QUEUE,
    "asyncio.PriorityQueue": ASYNC_QUEUE,
    "asyncio.Condition": ASYNC_CONDITION,
    "asyncio.Lock": ASYNC_LOCK,
    "asyncio.Semaphore": ASYNC_SEMAPHORE,
    "asyncio.BoundedSemaphore": ASYNC_SEMAPHORE,
    "concurrent.futures.ThreadPoolExecutor": EXECUTOR,
    "concurrent.futures.ProcessPoolExecutor": EXECUTOR,
    "loopsafe.open": DATABASE,
}

METHOD_RETURNS: dict[tuple[str, str], str] = {
    (CONNECTION, "cursor"): CURSOR,
    (CONNECTION, "execute"): CURSOR,
    (CONNECTION, "executemany"): CURSOR,
    (CONNECTION, "executescript"): CURSOR,
    (CURSOR, "execute"): CURSOR,
    (CURSOR, "executemany"): CURSOR,
    (CURSOR, "executescript"): CURSOR,
    (PATH, "open"): FILE,
    **{
        (PATH, name): PATH
        for name in [
            "joinpath",
            "with_name",
            "with_suffix",
            "with_stem",
            "absolute",
            "resolve",
            "expanduser",
        ]
    },
    (HTTP_CONNECTION, "getresponse"): HTTP_RESPONSE,
    (LOOP, "create_future"): FUTURE,
    (LOOP, "create_task"): TASK,
}

ATTRIBUTE_TYPES: dict[tuple[str, str], str] = {(PATH, "parent"): PATH}

# Annotations name these types under more spellings than their constructors do.
ANNOTATION_TYPES: dict[str, str] = {
    CONNECTION: CONNECTION,
    CURSOR: CURSOR,
    PATH: PATH,
    "pathlib.PosixPath": PATH,
    REQUESTS_SESSION: REQUESTS_SESSION,
    "requests.sessions.Session": REQUESTS_SESSION,
    HTTPX_CLIENT: HTTPX_CLIENT,
    HTTP_CONNECTION: HTTP_CONNECTION,
    "http.client.HTTPSConnection": HTTP_CONNECTION,
    HTTP_RESPONSE: HTTP_RESPONSE,
    POPEN: POPEN,
    "tempfile.SpooledTemporaryFile": FILE,
    "io.BytesIO": MEMORY_FILE,
    "io.StringIO": MEMORY_FILE,
    LOOP: LOOP,
    "asyncio.BaseEventLoop": LOOP,
    "asyncio.events.AbstractEventLoop": LOOP,
    FUTURE: FUTURE,
    TASK: TASK,
    ASYNC_EVENT: ASYNC_EVENT,
    ASYNC_QUEUE: ASYNC_QUEUE,
    "asyncio.LifoQueue": ASYNC_QUEUE,
    "asyncio.PriorityQueue": ASYNC_QUEUE,
    ASYNC_CONDITION: ASYNC_CONDITION,
    ASYNC_LOCK: ASYNC_LOCK,
    ASYNC_SEMAPHORE: ASYNC_SEMAPHORE,
    "asyncio.BoundedSemaphore": ASYNC_SEMAPHORE,
    EXECUTOR: EXECUTOR,
    "concurrent.futures.ThreadPoolExecutor": EXECUTOR,
    "concurrent.futures.ProcessPoolExecutor": EXECUTOR,
    DATABASE: DATABASE,
    "loopsafe.engine.Database": DATABASE,
    **dict.fromkeys(
        (
            "typing.IO",
            "typing.TextIO",
            "typing.BinaryIO",
            "io.IOBase",
            "io.TextIOWrapper",
            "io.BufferedReader",
            "io.BufferedWriter",
        ),
        FILE,
    ),
}

ITERATION_BLOCKS: dict[str, Category] = {
    CURSOR: Category.SQLITE,
    FILE: Category.FILE,
    HTTP_RESPONSE: Category.HTTP,
}

# ``with conn:`` commits or rolls back on exit; ``with Popen(...)`` waits for the child.
WITH_EXIT_BLOCKS: dict[str, Category] = {
    CONNECTION: Category.SQLITE,
    POPEN: Category.SUBPROCESS,
}

# ``async with`` on these binds the object itself (``async with loopsafe.open(p) as db``).
ASYNC_WITH_ENTERS = frozenset({DATABASE})

# Where a callable runs in a worker thread: (its position, its keyword) among the arguments.
ArgumentSlot = tuple[int, str | None]

THREAD_RUNNERS: dict[str, ArgumentSlot] = {
    "asyncio.to_thread": (0, None),
    "anyio.to_thread.run_sync": (0, None),
    "starlette.concurrency.run_in_threadpool": (0, None),
    "fastapi.concurrency.run_in_threadpool": (0, None),
    "threading.Thread": (1, "target"),
    "threading.Timer": (1, "function"),
}

THREAD_METHODS: dict[tuple[str, str], ArgumentSlot] = {
    (LOOP, "run_in_executor"): (1, None),
    (EXECUTOR, "submit"): (0, None),
    (EXECUTOR, "map"): (0, None),
    (DATABASE, "read"): (0, "fn"),
    (DATABASE, "write"): (0, "fn"),
}

# Methods recognised by name on an object of unknown type: the name alone says it.
THREAD_METHOD_NAMES: dict[str, ArgumentSlot] = {"run_in_executor": (1, None)}
