"""failures.describe: the one line names the innermost frame of the user's code, and the stored traceback
keeps the user's frames (and the exceptions it was raised from) without lakeplan's."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

from assets_core.failures import describe, first_line
from assets_core.step import _may_be_none


def _module(root: Path, name: str, source: str) -> ModuleType:
    path = root / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    module = ModuleType(name)
    module.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def test_the_innermost_user_frame_is_named_and_library_frames_are_kept_in_the_traceback(tmp_path: Path) -> None:
    helpers = _module(tmp_path, "helpers", "import json\n\ndef parse(text):\n    return json.loads(text)\n")
    try:
        helpers.parse("{not json")
    except ValueError as exc:
        failure = describe(exc, lambda f: f.startswith(str(tmp_path)), tmp_path)
    assert failure.message.startswith("JSONDecodeError: Expecting property name") and failure.where == "helpers.py:4"
    assert failure.traceback is not None and "json/decoder.py" in failure.traceback  # the library's frames stay
    assert "test_failures.py" in failure.traceback  # the caller (here: this test) is user code too


def test_lakeplan_frames_are_trimmed_in_chained_exceptions(tmp_path: Path) -> None:
    from assets_core.keys import validate_key

    user = _module(
        tmp_path,
        "user",
        """
        from assets_core.keys import validate_key

        def check(key):
            try:
                validate_key(key, "here")
            except Exception as exc:
                raise RuntimeError("wrapped") from exc
        """,
    )
    try:
        user.check("../up")
    except RuntimeError as exc:
        failure = describe(exc, lambda f: f.startswith(str(tmp_path)), tmp_path, reason="custom reason")
    assert failure.message == "custom reason (user.py:8)"
    assert failure.traceback is not None
    assert "The above exception was the direct cause" in failure.traceback
    assert validate_key.__code__.co_filename not in failure.traceback and "assets_core/" not in failure.traceback
    assert "DefinitionError: here: invalid asset key '../up'" in failure.traceback  # the cause is kept


def test_one_line_even_for_multi_line_or_broken_messages() -> None:
    assert first_line(ValueError("first\nsecond")) == "ValueError: first ..."
    assert first_line(KeyError()) == "KeyError"

    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert first_line(Broken()) == "Broken: <exception str() failed>"


def test_a_url_quoted_by_the_users_error_is_masked_in_the_message_and_traceback(tmp_path: Path) -> None:
    """The message and traceback are shown, recorded and rendered: a password in a quoted URL never is."""
    url = "postgresql://etl:PW-in-userinfo@db/x?sslpassword=PW-in-query"
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError as exc:
        failure = describe(exc, lambda f: True, tmp_path)
    assert failure.message.startswith("ConnectionError: cannot reach postgresql://etl:***@db/x?sslpassword=***")
    assert failure.traceback and "etl:***@db" in failure.traceback
    assert "PW-in" not in failure.message + failure.traceback


def test_which_return_annotations_admit_none() -> None:
    from typing import Annotated, Any, Literal, Optional, TypeVar, Union

    # the spellings users write, old ones included
    admit = [None, type(None), Any, object, Optional[int], int | None, Union[int, str, None], TypeVar("T")]  # noqa: UP007, UP045
    admit += [Annotated[Optional[int], "x"], Literal[1, None], "Optional[pd.DataFrame]", "pd.DataFrame | None"]  # noqa: UP045
    refuse = [int, list[int], dict, Union[int, str], Literal[1], Annotated[int, "x"], "pd.DataFrame"]  # noqa: UP007
    assert [a for a in admit if not _may_be_none(a)] == []
    assert [r for r in refuse if _may_be_none(r)] == []
