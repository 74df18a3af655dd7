"""Which of our errors (``shared.errors.AppError`` subclasses) an HTTP operation can raise,
read from the code: a static walk of the route's endpoint and dependencies and of every
function of ours they call.

It is an over-approximation of what is reachable, up to the calls it cannot resolve:

- an error counts where its class is *called* (``raise NotFound(...)``, ``exc = Conflict(...)``),
  in the function or in any function nested in it (closures such as a unit-of-work action);
- a call is followed when its target resolves, by name, to a function or class of ours
  (modules ``shared``, ``donation``, ``warehouse``, ``notification``): through the function's
  globals, closure, imports inside the function, ``module.attribute``, ``Class.method``, and
  the annotated type of a parameter or of a called function's return value
  (``uow: SqlUnitOfWork`` → ``uow.commit()``; ``limiter(...).check()``); ``self.method()``
  within a class.

Anything else (an attribute of a local variable, a call through a dict of callables) is not
followed; the test in ``test_openapi_errors.py`` also checks that every error class raised
anywhere in a service's request code is reached from some route, so a missed path shows.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import inspect
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shared.errors import AppError

OURS = ("shared", "donation", "warehouse", "notification")


def ours(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in OURS


@dataclass(frozen=True)
class Instance:
    """A value known only by its (annotated) type."""

    cls: type


@dataclass
class Analysis:
    """The call graph of our functions, read lazily; the errors a function or route may raise."""

    _edges: dict[Callable[..., Any], list[Any]] = field(default_factory=dict)
    visited: set[Callable[..., Any]] = field(default_factory=set)

    def _targets(self, func: Callable[..., Any]) -> list[Any]:
        if func not in self._edges:
            self._edges[func] = list(_targets(func))
        return self._edges[func]

    def reachable(self, roots: Iterable[Callable[..., Any]]) -> frozenset[type[AppError]]:
        """The error classes constructed by ``roots`` or anything of ours they call."""
        found: set[type[AppError]] = set()
        seen: set[Callable[..., Any]] = set()
        pending = [_plain(root) for root in roots if ours(root)]
        while pending:
            func = pending.pop()
            if func in seen:
                continue
            seen.add(func)
            for target in self._targets(func):
                if isinstance(target, type) and issubclass(target, AppError):
                    found.add(target)
                else:
                    pending.append(_plain(target))
        self.visited |= seen
        return frozenset(found)

    def function(self, func: Callable[..., Any]) -> frozenset[type[AppError]]:
        return self.reachable([func])

    def route(self, route: APIRoute) -> frozenset[type[AppError]]:
        """What the endpoint and its dependencies may raise."""
        return self.reachable(_dependency_calls(route.dependant))


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _dependency_calls(sub)


def _plain(func: Callable[..., Any]) -> Callable[..., Any]:
    func = inspect.unwrap(func)
    if isinstance(func, types.MethodType):
        return func.__func__
    return func


def _source(func: Callable[..., Any]) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    try:
        return ast.parse(source)
    except SyntaxError:  # a lambda in the middle of an expression
        return None


def _hints(obj: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # an annotation that does not resolve at run time
        return {}


def _classes(annotation: Any) -> list[type]:
    """Our classes in an annotation (``X``, ``X | None``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type):
        return [annotation] if ours(annotation) else []
    return [c for arg in typing.get_args(annotation) for c in _classes(arg)]


class _Scope:
    """Name resolution inside one function."""

    def __init__(self, func: Callable[..., Any], tree: ast.AST) -> None:
        self.func = func
        self.names: dict[str, Any] = dict(vars(builtins))
        self.names.update(getattr(func, "__globals__", {}))
        with contextlib.suppress(TypeError, ValueError):  # not a plain function
            self.names.update(inspect.getclosurevars(func).nonlocals)
        for node in ast.walk(tree):  # imports inside the function
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if hasattr(module, alias.name):
                        self.names[alias.asname or alias.name] = getattr(module, alias.name)
        # parameters of the function and of the functions nested in it: their types
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    if arg.arg in self.names and not isinstance(self.names[arg.arg], Instance):
                        continue
                    if arg.annotation is not None:
                        typed = self._annotation(arg.annotation)
                        if typed is not None:
                            self.names[arg.arg] = typed
        owner = _owner(func)
        if owner is not None:
            self.names["self"] = Instance(owner)
            self.names["cls"] = owner

    def _annotation(self, node: ast.expr) -> Instance | None:
        try:
            # our own source's annotations, evaluated in its own namespace
            value = eval(compile(ast.Expression(node), "<annotation>", "eval"), dict(self.names))
        except Exception:
            return None
        classes = _classes(value)
        return Instance(classes[0]) if len(classes) == 1 else None

    def resolve(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if isinstance(base, Instance):
                return getattr(base.cls, node.attr, None)
            if isinstance(base, types.ModuleType) or (isinstance(base, type) and ours(base)):
                return getattr(base, node.attr, None)
            return None
        if isinstance(node, ast.Call):
            called = self.resolve(node.func)
            if isinstance(called, type) and ours(called):
                return Instance(called)
            if callable(called) and ours(called):
                classes = _classes(_hints(called).get("return"))
                return Instance(classes[0]) if len(classes) == 1 else None
            return None
        if isinstance(node, ast.Await):
            return self.resolve(node.value)
        return None


def _owner(func: Callable[..., Any]) -> type | None:
    parts = getattr(func, "__qualname__", "").split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    owner = inspect.getmodule(func)
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
    return owner if isinstance(owner, type) else None


def _targets(func: Callable[..., Any]) -> Iterator[Any]:
    """What ``func`` calls that is ours: error classes, functions, classes' ``__init__``."""
    tree = _source(func)
    if tree is None:
        return
    scope = _Scope(func, tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        target = scope.resolve(node.func)
        if isinstance(target, type):
            if issubclass(target, AppError):
                yield target
            elif ours(target):
                init = getattr(target, "__init__", None)
                if inspect.isfunction(init) and ours(init):
                    yield init
                post = getattr(target, "__post_init__", None)
                if inspect.isfunction(post):
                    yield post
        elif (inspect.isfunction(target) or inspect.ismethod(target)) and ours(target):
            yield target
