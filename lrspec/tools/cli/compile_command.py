"""``lrspec compile SPEC --target T [--model SOURCE] [--emit python]``.

Without ``--model`` the spec is validated and its groups shown. With ``--model`` the SOURCE
(:mod:`lrspec.tools.model_sources`) gives the parameter names: a parameter list or a model
file is resolved and the plan shown; a live model must be one target ``T`` accepts
(:meth:`lrspec.targets.Target.accepts`), is listed with ``T``'s
:meth:`~lrspec.targets.Target.parameters` and compiled with ``T``, and the optimizer that was
built is named. ``--emit python`` writes the module :func:`lrspec.tools.emit.emit_python` makes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from lrspec.errors import LrSpecError, TargetError
from lrspec.tools.cli.common import check_target, json_text, load_spec, resolve, write_output
from lrspec.tools.cli.errors import EXIT_OK, UsageError, UserError, located
from lrspec.tools.render import printable

__all__ = ["built_line", "cmd_compile", "public_name"]


def _guarded(where: str, what: str, call: Callable[[], Any]) -> Any:
    """``call()``; an exception that is not an :class:`LrSpecError` (any ``BaseException`` but
    ``KeyboardInterrupt``: model code can raise anything) is a :class:`UserError` at ``where``."""
    with located(where):
        try:
            return call()
        except (LrSpecError, KeyboardInterrupt):
            raise
        except BaseException as exc:
            raise UserError(where, f"{what}: {type(exc).__name__}: {exc}") from None


def _nothing_to_optimize(plan: Any) -> TargetError:
    return TargetError(
        "every parameter is permanently frozen, so there is nothing to optimize (the generated module "
        "could not build an optimizer)"
    )


def _model_plan(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """(spec, plan, source, compiled-or-None) for ``compile --model``. A live model is compiled
    with ``--emit`` too: compiling is what checks the plan against the model (tied parameters
    in conflicting groups, nothing to optimize), and a module that ``compile`` refuses must not
    be written."""
    from lrspec.targets import get_target
    from lrspec.tools import model_sources

    spec = load_spec(args.spec)
    source = model_sources.open_source(args.model, args.target)
    where_target = f"--target {args.target}"
    if source.model is None:
        plan = resolve(spec, source.params, args.spec)
        if args.emit is not None and not plan.trainable_groups:
            with located(where_target):
                raise _nothing_to_optimize(plan)
        return spec, plan, source, None
    with located(where_target, TargetError):
        target = get_target(args.target)
    params = _guarded(args.model, "cannot list the model's parameters", lambda: target.parameters(source.model))
    plan = resolve(spec, params, args.spec)
    compiled = _guarded(where_target, "compiling the plan failed", lambda: target.compile(plan, source.model))
    return spec, plan, source, compiled


def public_name(cls: type) -> str:
    """``module.Class`` with the module shortened to the highest package that exports the
    class itself (``torch.optim.adam.Adam`` -> ``torch.optim.Adam``; lazily exported names,
    which are not in the package's namespace, keep their defining module)."""
    module = cls.__module__
    while "." in module:
        parent = module.rpartition(".")[0]
        namespace = vars(sys.modules[parent]) if parent in sys.modules else {}
        if namespace.get(cls.__name__) is not cls:
            break
        module = parent
    return f"{module}.{cls.__qualname__}"


def built_line(target: str, plan: Any, compiled: Any) -> str:
    """The last line of ``compile --model``: what was (or will be) built."""
    optimizer = getattr(compiled, "optimizer", None) if compiled is not None else None
    n = len(plan.trainable_groups)
    groups = f"{n} optimizer group{'s' if n != 1 else ''}"
    if optimizer is not None:
        return f"built: {public_name(type(optimizer))} with {groups}"
    if compiled is not None:
        return f"built: {type(compiled).__qualname__} with {groups}"
    trainable = f"{n} group{'s' if n != 1 else ''} not frozen for good"
    return f"will build: the {target} optimizer for the {trainable} (no live model given)"


def cmd_compile(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate SPEC for a target; with --model, resolve and show the plan (or emit code)."""
    from lrspec.tools.explain import plan_json, plan_table, spec_json, spec_table

    check_target(args.target, "lrspec compile")
    if args.emit is not None and args.model is None:
        raise UsageError("lrspec compile: --emit python needs --model (the generated code names every parameter)")
    if args.model is None:
        spec = load_spec(args.spec)
        if args.format == "json":
            text = json_text(spec_json(spec, command="compile", spec=args.spec, target=args.target))
        else:
            text = f"{printable(args.spec)}: valid; target {args.target} (no --model: showing the spec's groups)\n\n{spec_table(spec)}\n"
        write_output(text, args.output, args.force, out)
        return EXIT_OK
    spec, plan, source, compiled = _model_plan(args)
    if args.emit is not None:
        from lrspec.tools.emit import emit_python

        with located(f"--target {args.target}", TargetError):
            code = emit_python(plan, args.target, spec_path=args.spec, source=args.model)
        write_output(code, args.output, args.force, out)
        if args.output not in (None, "-"):
            err.write(f"wrote {printable(args.output)} ({args.target}; entry point build(model))\n")
        return EXIT_OK
    if args.format == "json":
        doc = plan_json(plan, command="compile", spec=args.spec, target=args.target, model=args.model, source_kind=source.kind)
        text = json_text(doc)
    else:
        head = printable(f"{args.spec} -> {args.target}, model {args.model} ({source.kind}, {len(plan.names)} parameters)")
        text = f"{head}\n\n{plan_table(plan)}\n\n{built_line(args.target, plan, compiled)}\n"
    write_output(text, args.output, args.force, out)
    return EXIT_OK
