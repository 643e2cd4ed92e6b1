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

# Calls that run a callable given as an argument in a worker thread: (name, index).
THREAD_RUNNERS: dict[str, int] = {"asyncio.to_thread": 0, "anyio.to_thread.run_sync": 0}
